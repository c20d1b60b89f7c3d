"""Web UI: Jinja2 templates, vendored static files, Babel/gettext languages (SPEC §9)."""
