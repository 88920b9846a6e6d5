#!/usr/bin/env bash
# `lorikeet serve` with curl: the model list, one chat answer, one streamed, one error.
#   scripts/serve_curl.sh [BASE_URL] [MODEL]     (default http://127.0.0.1:8080, the first adapter listed)
set -euo pipefail
url="${1:-http://127.0.0.1:8080}"
auth=()
[[ -n "${LORIKEET_API_KEY:-}" ]] && auth=(-H "Authorization: Bearer $LORIKEET_API_KEY")
models="$(curl -sf "${auth[@]}" "$url/v1/models")"
echo "models: $models"
model="${2:-$(python3 -c 'import json,sys; d=json.load(sys.stdin)["data"]; print(([m["id"] for m in d if m.get("parent")] or [d[0]["id"]])[0])' <<< "$models")}"
body="{\"model\": \"$model\", \"messages\": [{\"role\": \"user\", \"content\": \"What is the capital of Veloria?\"}], \"max_tokens\": 32, \"temperature\": 0}"
echo "chat:"
curl -sf "${auth[@]}" "$url/v1/chat/completions" -H 'Content-Type: application/json' -d "$body"
echo
echo "streamed:"
curl -sfN "${auth[@]}" "$url/v1/chat/completions" -H 'Content-Type: application/json' -d "${body%\}}, \"stream\": true}" | head -c 600
echo
echo "unknown model (404):"
curl -s "${auth[@]}" -o /dev/stderr -w '%{http_code}\n' "$url/v1/chat/completions" -H 'Content-Type: application/json' \
    -d '{"model": "no-such-model", "messages": [{"role": "user", "content": "hi"}]}'
