"""Server-rendered pages (Jinja2, English and Norwegian). Pages never parse OAuth parameters."""
