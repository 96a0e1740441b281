"""The open API for merchants' ERPs (SPEC §10), under /api/v1/.

A screen over the domain services, like the admin's pages: every endpoint calls the same service
functions the back-office calls. Shared pieces have a module each (auth, problems, idempotency,
pagination, throttling, schema); each resource has its view module in views/ and its serializers
in serializers/, so a new resource is two files and a line in urls.py.
"""
