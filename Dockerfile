FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY wrls_actors ./wrls_actors
RUN pip install --no-cache-dir . && useradd --create-home wrls
USER wrls
ENTRYPOINT ["wrls-actors"]
CMD ["run"]
