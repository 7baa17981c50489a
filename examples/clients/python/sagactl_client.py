#!/usr/bin/env python3
"""A small client for the sagactl HTTP API, standard library only.

    export SAGACTL_URL=http://127.0.0.1:8080 SAGACTL_TOKEN=sgt_...
    python3 sagactl_client.py order-checkout '{"orderId": "o-1042", "amount": 25}' --key order-1042

Starts a saga, follows its events as they happen (Server-Sent Events), and prints its
final status. Exit 0 when it completed, 1 otherwise (2 for an API error).
"""
import json
import os
import sys
import urllib.error
import urllib.request


class SagactlError(Exception):
    def __init__(self, status, body):
        error = body.get("error", {}) if isinstance(body, dict) else {}
        super().__init__(f"HTTP {status} {error.get('code', '')}: {error.get('message', body)}")
        self.status = status
        self.code = error.get("code")


class Client:
    def __init__(self, base_url, token, timeout=90):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def _request(self, method, path, body=None, accept="application/json"):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.token}")
        req.add_header("Accept", accept)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            return urllib.request.urlopen(req, timeout=self.timeout)
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = raw.decode(errors="replace")
            raise SagactlError(e.code, parsed) from None

    def _json(self, method, path, body=None):
        with self._request(method, path, body) as res:
            return res.status, json.loads(res.read())

    def start(self, definition, input=None, key=None, version=None):
        """Returns (saga, created): created is False when the key started this saga before."""
        body = {"definition": definition, "input": {} if input is None else input}
        if key is not None:
            body["key"] = key
        if version is not None:
            body["version"] = version
        status, saga = self._json("POST", "/v1/sagas", body)
        return saga, status == 201

    def get(self, saga_id, wait=None):
        """The saga with its steps; with wait (e.g. "30s") once it is finished or suspended, or the wait ends."""
        query = f"?wait={wait}" if wait else ""
        return self._json("GET", f"/v1/sagas/{saga_id}{query}")[1]

    def events(self, saga_id):
        """Yields (type, data) for each event of the saga, live, until the stream's final "end"."""
        with self._request("GET", f"/v1/sagas/{saga_id}/events", accept="text/event-stream") as res:
            event, data = None, []
            for raw in res:
                line = raw.decode().rstrip("\r\n")
                if line == "":
                    if event is not None:
                        yield event, json.loads("\n".join(data)) if data else None
                    event, data = None, []
                elif line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].lstrip())

    def act(self, saga_id, action, reason=None, step=None, force=None):
        """retry, compensate, skip or abort (needs an operate token)."""
        body = {k: v for k, v in {"reason": reason, "step": step, "force": force}.items() if v is not None}
        return self._json("POST", f"/v1/sagas/{saga_id}/{action}", body)[1]


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    definition = argv[1]
    saga_input = json.loads(argv[2]) if len(argv) > 2 else {}
    key = argv[argv.index("--key") + 1] if "--key" in argv else None
    client = Client(os.environ.get("SAGACTL_URL", "http://127.0.0.1:8080"), os.environ["SAGACTL_TOKEN"])
    try:
        saga, created = client.start(definition, saga_input, key=key)
        print(f"{'started' if created else 'already started'} {saga['id']}")
        status = saga["status"]
        for event, data in client.events(saga["id"]):
            if event == "end":
                status = data["status"]
            else:
                print(f"  {event}{' ' + data['step'] if data.get('step') else ''}")
        print(status)
        return 0 if status == "completed" else 1
    except SagactlError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
