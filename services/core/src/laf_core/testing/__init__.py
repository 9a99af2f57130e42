"""Test support: the pytest plugin (real PostgreSQL and RabbitMQ) and factories."""
