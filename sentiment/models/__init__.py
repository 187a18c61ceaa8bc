"""Models: spec parsing, loading (auto, embedded, vader, hub, local), adapters, the transformer and lexicon backends."""
