"""Tables: reading delimited uploads (encoding, sniffing, layout, text column) and scoring them row by row."""
