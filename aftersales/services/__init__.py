"""After-sales writes. Settings live in `settings.py`; cases in their own modules."""
