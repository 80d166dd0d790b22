"""Test models with PostgreSQL-only fields (django.contrib.postgres), installed on PostgreSQL only."""
