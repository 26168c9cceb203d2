FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

# WeasyPrint (the PDF record) needs Pango; Liberation Sans is the font the record's layout is made for.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-liberation \
 && rm -rf /var/lib/apt/lists/*

# Dependencies first, so code changes do not reinstall them.
COPY pyproject.toml constraints.txt README.md ./
COPY bot ./bot
COPY dialogs ./dialogs
COPY storage ./storage
RUN pip install -c constraints.txt . \
 && useradd --system --uid 10001 --home-dir /app strategy \
 && mkdir -p /app/data && chown strategy /app/data

USER strategy
EXPOSE 3978
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:3978/healthz', timeout=4).status != 200)"
ENTRYPOINT ["python", "-m", "bot"]
CMD ["serve", "--host", "0.0.0.0"]
