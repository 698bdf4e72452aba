"""wrls-actors: every background job of WRLS on Dramatiq, RabbitMQ and PostgreSQL."""
