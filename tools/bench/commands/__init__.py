"""The benchmarks' command lines: Django management command classes, run by ``python -m tools.bench``
rather than registered through an app, so the product's ``INSTALLED_APPS`` does not carry them."""
