"""Web: what faces HTTP (Gradio UI, routes, middleware, Gradio patches); calls only the service layer."""
