#!/usr/bin/env python3
"""traitor's adapter for etcd 3.4, over its v3 JSON gateway (standard library only).

traitor starts this program on the harness host and talks to it in JSON lines, many
requests in flight (docs/bring-your-own-cluster.md):

- an op:      {"id", "op": {"f", "key", "value"}, "client", "req", "node", "timeout_ms", "nodes"}
              -> {"id", "type": "ok"|"fail"|"info", "value"?, "error"?}
- a log read: {"id", "log": {"node", "from"}, "nodes"} -> {"id", "entries", "committed"}
- the leader: {"id", "primary": {}, "nodes"} -> {"id", "node"}

Writes store the op with its client and request ids as the key's value, so that each
member's MVCC history (read with a watch from `from`) is its committed log in traitor's
terms: one entry per revision. `cas` is a quorum read, then a transaction that writes only
if the key's mod_revision is still the one read.

--serializable-reads asks the member reached for its local state (etcd's serializable
range) instead of a quorum read: the `serializable-reads` variant, a client-side bug.
"""

import argparse
import base64
import collections
import concurrent.futures
import hashlib
import http.client
import json
import socket
import sys
import threading

WATCH_LIMIT_S = 10.0
OBSERVE_TIMEOUT_S = 2.0


def b64(text):
    return base64.b64encode(text.encode()).decode()


def unb64(text):
    return base64.b64decode(text or "").decode(errors="replace")


class EtcdError(Exception):
    """etcd answered, with an error: `definite` when the request surely had no effect."""

    def __init__(self, message, definite):
        super().__init__(message)
        self.definite = definite


def post(address, path, body, timeout):
    """One gateway call; connection failures are raised as OSError."""
    host, port = address.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        response = conn.getresponse()
        answer = json.loads(response.read() or b"{}")
    finally:
        conn.close()
    if response.status != 200 or "error" in answer:
        message = answer.get("error") or answer.get("message") or f"HTTP {response.status}"
        raise EtcdError(message, definite=False)
    return answer


class Etcd:
    def __init__(self, serializable_reads):
        self.serializable_reads = serializable_reads
        self.members = {}  # member id -> node id, learned from the member list
        self.members_lock = threading.Lock()

    # --- ops ------------------------------------------------------------------------

    def op(self, request):
        op = request["op"]
        node = request["node"]
        address = request["nodes"][node]["api"]
        timeout = request.get("timeout_ms", 5000) / 1000.0
        f, key = op["f"], op.get("key") or "r"
        try:
            if f == "read":
                return {"type": "ok", "value": self.read(address, key, timeout)}
            if f == "write":
                self.write(address, key, request, timeout)
                return {"type": "ok"}
            if f == "cas":
                done = self.cas(address, key, request, timeout)
                return {"type": "ok"} if done else {"type": "fail", "error": "value differs"}
            return {"type": "fail", "error": f"the etcd adapter does not do {f!r}"}
        except ConnectionRefusedError as e:
            return {"type": "fail", "error": f"connection refused: {e}"}
        except (EtcdError, OSError, ValueError) as e:
            # A read changes nothing: whatever went wrong, it did not happen.
            if f == "read" or (isinstance(e, EtcdError) and e.definite):
                return {"type": "fail", "error": str(e)}
            return {"type": "info", "error": str(e) or type(e).__name__}

    def range(self, address, key, timeout, serializable):
        body = {"key": b64(key), "serializable": serializable}
        kvs = post(address, "/v3/kv/range", body, timeout).get("kvs") or []
        return kvs[0] if kvs else None

    def read(self, address, key, timeout):
        kv = self.range(address, key, timeout, self.serializable_reads)
        return None if kv is None else written_value(json.loads(unb64(kv.get("value"))))

    def stored(self, request):
        op = request["op"]
        return b64(json.dumps({
            "client": request["client"], "req": request["req"],
            "f": op["f"], "value": op.get("value"),
        }, sort_keys=True))

    def write(self, address, key, request, timeout):
        body = {"key": b64(key), "value": self.stored(request)}
        post(address, "/v3/kv/put", body, timeout)

    def cas(self, address, key, request, timeout):
        expected, _ = request["op"]["value"]
        kv = self.range(address, key, timeout, serializable=False)
        if kv is None or written_value(json.loads(unb64(kv.get("value")))) != expected:
            return False
        txn = {
            "compare": [{
                "key": b64(key), "target": "MOD", "result": "EQUAL",
                "mod_revision": kv["mod_revision"],
            }],
            "success": [{"request_put": {"key": b64(key), "value": self.stored(request)}}],
        }
        return bool(post(address, "/v3/kv/txn", txn, timeout).get("succeeded"))

    # --- observers ------------------------------------------------------------------

    def log(self, request):
        """The member's history from revision `from` on, one entry per revision."""
        node, start = request["log"]["node"], request["log"]["from"]
        address = request["nodes"][node]["api"]
        try:
            head = post(address, "/v3/kv/range", {
                "key": b64("\0"), "range_end": b64("\0"), "serializable": True,
                "count_only": True,
            }, OBSERVE_TIMEOUT_S)
            committed = int(head["header"]["revision"])
            entries = self.history(address, max(start, 1), committed)
        except (EtcdError, OSError, ValueError, KeyError) as e:
            return {"error": f"reading member n{node}: {e}"}
        return {"entries": entries, "committed": committed}

    def history(self, address, start, committed):
        """Events of revisions start..=committed, from a watch. Revision 1 is etcd's empty
        start; every later one holds exactly one of this adapter's writes."""
        start = max(start, 2)
        if start > committed:
            return []
        host, port = address.rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=WATCH_LIMIT_S)
        entries = {}
        try:
            conn.request("POST", "/v3/watch", json.dumps({"create_request": {
                "key": b64("\0"), "range_end": b64("\0"), "start_revision": start,
            }}))
            response = conn.getresponse()
            while max(entries, default=start - 1) < committed:
                line = response.readline()
                if not line:
                    raise EtcdError("the watch ended early", definite=False)
                result = json.loads(line).get("result", {})
                if result.get("compact_revision"):
                    raise EtcdError("history compacted", definite=False)
                for event in result.get("events") or []:
                    seq = int(event["kv"]["mod_revision"])
                    if seq <= committed:
                        entries[seq] = entry(seq, event)
        finally:
            conn.close()
        return [entries[s] for s in sorted(entries)]

    def primary(self, request):
        """The leader most members name, as a node id (member names are n<id>)."""
        votes = collections.Counter()
        for node in request["nodes"]:
            try:
                status = post(node["api"], "/v3/maintenance/status", {}, OBSERVE_TIMEOUT_S)
            except (EtcdError, OSError, ValueError):
                continue
            leader = status.get("leader")
            if leader and leader != "0":
                votes[leader] += 1
        for leader, _ in votes.most_common():
            node = self.node_of(leader, request["nodes"])
            if node is not None:
                return {"node": node}
        return {"node": None}

    def node_of(self, member, nodes):
        with self.members_lock:
            if member not in self.members:
                for node in nodes:
                    try:
                        listed = post(node["api"], "/v3/cluster/member/list", {}, OBSERVE_TIMEOUT_S)
                    except (EtcdError, OSError, ValueError):
                        continue
                    for m in listed.get("members") or []:
                        if m.get("name", "").startswith("n") and m["name"][1:].isdigit():
                            self.members[m["ID"]] = int(m["name"][1:])
                    break
            return self.members.get(member)


def written_value(stored):
    """The value a stored write or cas left in the key."""
    value = stored.get("value")
    return value[1] if stored.get("f") == "cas" else value


def entry(seq, event):
    kv = event["kv"]
    key, raw = unb64(kv.get("key")), unb64(kv.get("value"))
    digest = hashlib.sha256(f"{key}\0{raw}".encode()).hexdigest()[:16]
    if event.get("type") == "DELETE":
        return {"seq": seq, "digest": digest, "op": {"f": "delete", "key": key}}
    try:
        stored = json.loads(raw)
        op = {"f": stored["f"], "key": key, "value": stored.get("value")}
        return {"seq": seq, "digest": digest, "client": stored["client"],
                "req": stored["req"], "op": op}
    except (ValueError, KeyError, TypeError):
        # Written by someone other than this adapter: no client to trace it to.
        return {"seq": seq, "digest": digest, "op": {"f": "foreign-write", "key": key, "value": raw}}


def serve(etcd):
    out = threading.Lock()

    def answer(request):
        try:
            if "op" in request:
                reply = etcd.op(request)
            elif "log" in request:
                reply = etcd.log(request)
            elif "primary" in request:
                reply = etcd.primary(request)
            else:
                reply = {"error": "unknown request"}
        except Exception as e:  # an adapter bug must still answer, as info
            reply = {"type": "info", "error": f"adapter error: {e!r}"}
        reply["id"] = request["id"]
        with out:
            sys.stdout.write(json.dumps(reply) + "\n")
            sys.stdout.flush()

    with concurrent.futures.ThreadPoolExecutor(max_workers=64) as pool:
        for line in sys.stdin:
            if line.strip():
                pool.submit(answer, json.loads(line))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serializable-reads", action="store_true",
                        help="read the reached member's local state (a stale-read bug)")
    args = parser.parse_args()
    socket.setdefaulttimeout(WATCH_LIMIT_S)
    serve(Etcd(args.serializable_reads))


if __name__ == "__main__":
    main()
