"""A scripted model server for real agent CLIs, on 127.0.0.1 only (run inside a loopback-only
network namespace). It speaks the Anthropic Messages API (streaming and not) as Claude Code
calls it, the OpenAI Responses API as Codex calls it, the Gemini API as Gemini CLI calls it
and the OpenAI Chat Completions API as qwen-code calls it: a prompt that carries an
orchestrate marker is answered with one call of the CLI's shell tool that appends the report
block the prompt asks for; the tool's result with a short text.
Every prompt it is given is logged as a JSON line (with its time), so that tests can count
deliveries.

A prompt that says ANSWER AT LENGTH gets, after its tool call wrote the report, a final
answer streamed slowly (SLOW_LINES lines, one every SLOW_EVERY seconds: about 2.4 s), as a
real model goes on answering after it reported; `answer-start` and `answer-end` are logged
around it, or `answer-cut` if the CLI hung up before the end (a prompt typed into the running
turn cut it off).

Usage: python model_server.py PORT LOG
With MODEL_SERVER_DUMP=FILE it also appends every request body to FILE: how to learn what a
new CLI (or version) sends.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import shlex
import sys
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MARKER = re.compile(r"\[orchestrate [A-Za-z0-9][A-Za-z0-9_.-]* #\d+(?: fields)?\]")
_ids = itertools.count(1)
SLOW = b"ANSWER AT LENGTH"
SLOW_LINES = 12
SLOW_EVERY = 0.2
STOPPED = {"finishReason": "STOP", "index": 0}
DONE = "Done: the report is on the board."


def slow_pieces() -> list[str]:
    """The pieces of a long final answer, streamed SLOW_EVERY seconds apart."""
    return [DONE + "\n"] + [
        f"Summary line {i} of {SLOW_LINES}: what was done, and what is left.\n"
        for i in range(2, SLOW_LINES + 1)
    ]


def _texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    return [
        b.get("text", "") for b in content or [] if isinstance(b, dict) and b.get("type") == "text"
    ]


def report_command(prompt: str, marker: str) -> str | None:
    """The shell line an obedient agent runs: append the block the prompt asks for. The header
    is the one naming the marker's task (the context also holds CLAUDE.md and its examples)."""
    task = marker.split()[1]
    ref = task if task.upper().startswith("TODO-") else f"TODO-{task}"
    header = next(
        (
            ln
            for ln in prompt.splitlines()
            if re.match(rf"^#{{2,4}} {re.escape(ref)}: COMPLETED", ln)
        ),
        None,
    )
    if header is None:
        return None
    after = prompt[prompt.index(header) + len(header) :].split("\n\n", 1)[0]
    fields = [m.group(1) for m in re.finditer(r"^\*\*([^*]+)\*\*:", after, re.M)]
    lines = [header, *(f"**{name}**: done by a real CLI" for name in fields), ""]
    return "printf '%s\\n' " + " ".join(shlex.quote(line) for line in lines) + " >> CLAUDE.md"


def _fill(schema: dict[str, Any]) -> Any:
    """A value that satisfies a (Gemini-style) JSON schema: the CLI's side questions."""
    kind = str(schema.get("type", "string")).lower()
    if kind == "object":
        props = schema.get("properties") or {}
        return {name: _fill(sub) for name, sub in props.items()}
    if kind == "array":
        return []
    if kind in ("integer", "number"):
        return 10
    if kind == "boolean":
        return False
    if schema.get("enum"):
        return schema["enum"][0]
    return "ok"


class Handler(BaseHTTPRequestHandler):
    log_path = ""

    def log_message(self, *args: Any) -> None:
        pass

    def _log(self, record: dict[str, Any]) -> None:
        with open(self.log_path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"ts": time.time(), **record}, ensure_ascii=False) + "\n")

    def _slowly(self, send: Callable[[str], None]) -> None:
        """Stream the long final answer piece by piece through `send`, logging its start and
        its end, or that the CLI hung up in the middle."""
        self._log({"event": "answer-start"})
        try:
            for i, piece in enumerate(slow_pieces()):
                if i:
                    time.sleep(SLOW_EVERY)
                send(piece)
        except (BrokenPipeError, ConnectionResetError):
            self._log({"event": "answer-cut"})
            raise
        self._log({"event": "answer-end"})

    def do_HEAD(self) -> None:
        self.send_response(200)
        self.end_headers()

    def do_GET(self) -> None:
        self._json({})

    def do_POST(self) -> None:
        # The CLI may go away mid-answer (a test killed it): nothing to report then.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._answer()

    def _answer(self) -> None:
        length = int(self.headers.get("content-length", 0))
        raw = self.rfile.read(length) or b"{}"
        body = json.loads(raw)
        self.slow = SLOW in raw
        if os.environ.get("MODEL_SERVER_DUMP"):
            with open(os.environ["MODEL_SERVER_DUMP"], "ab") as dump:
                dump.write(raw + b"\n")
        if self.path.rstrip("/").endswith("/responses"):
            # Where the session lets the model ask a person (approval "on-request"), its
            # instructions say how; a write needs asking then, as a real model would.
            self._responses(body, ask=b"How to request escalation" in raw)
            return
        if self.path.split("?")[0].lower().endswith("generatecontent"):
            self._gemini(body, stream="streamGenerateContent" in self.path)
            return
        if self.path.rstrip("/").endswith("/chat/completions"):
            self._chat(body)
            return
        if "count_tokens" in self.path:
            self._json({"input_tokens": 10})
            return
        turns = [m for m in body.get("messages", []) if m.get("role") in ("user", "assistant")]
        content = turns[-1].get("content") if turns else ""
        is_result = isinstance(content, list) and any(
            isinstance(b, dict) and b.get("type") == "tool_result" for b in content
        )
        blocks: list[dict[str, Any]]
        stop = "end_turn"
        prompt = "\n".join(_texts(content))
        mark = MARKER.search(prompt) if not is_result else None
        if mark and body.get("tools"):
            self._log({"event": "prompt", "marker": mark.group(0), "chars": len(prompt)})
            if "TAKE YOUR TIME" in prompt:
                time.sleep(6)  # a long piece of work, for tests that interrupt it
            command = report_command(prompt, mark.group(0))
            if command:
                blocks = [
                    {
                        "type": "tool_use",
                        "id": f"toolu_{next(_ids)}",
                        "name": "Bash",
                        "input": {"command": command, "description": "Append the report"},
                    }
                ]
                stop = "tool_use"
            else:
                blocks = [{"type": "text", "text": "Nothing to report."}]
        elif is_result:
            self._log({"event": "tool-result"})
            blocks = [{"type": "text", "text": DONE}]
        else:
            blocks = [{"type": "text", "text": "Task"}]
        if body.get("stream"):
            self._stream(blocks, stop, slow=self.slow and is_result)
        else:
            self._json(
                {
                    "id": f"msg_{next(_ids)}",
                    "type": "message",
                    "role": "assistant",
                    "model": body.get("model", "model"),
                    "content": blocks,
                    "stop_reason": stop,
                    "stop_sequence": None,
                    "usage": {"input_tokens": 1, "output_tokens": 1},
                }
            )

    # ------------------------------------------------------------------ OpenAI Responses (Codex)

    def _responses(self, body: dict[str, Any], ask: bool) -> None:
        items = body.get("input") or []
        last = items[-1] if items else {}
        is_result = isinstance(last, dict) and last.get("type") == "function_call_output"
        prompt = ""
        if isinstance(last, dict) and last.get("type") == "message":
            prompt = "\n".join(
                c.get("text", "") for c in last.get("content") or [] if isinstance(c, dict)
            )
        mark = MARKER.search(prompt) if not is_result else None
        output: list[dict[str, Any]]
        if mark and body.get("tools"):
            self._log({"event": "prompt", "marker": mark.group(0), "chars": len(prompt)})
            if "TAKE YOUR TIME" in prompt:
                time.sleep(6)
            command = report_command(prompt, mark.group(0)) or "true"
            n = next(_ids)
            output = [
                {
                    "type": "function_call",
                    "id": f"fc_{n}",
                    "call_id": f"call_{n}",
                    "name": "exec_command",
                    "arguments": json.dumps(
                        {
                            "cmd": command,
                            "sandbox_permissions": "require_escalated",
                            "justification": "Append the report to CLAUDE.md?",
                        }
                        if ask
                        else {"cmd": command}
                    ),
                    "status": "completed",
                }
            ]
        else:
            if is_result:
                self._log({"event": "tool-result"})
            slow = self.slow and is_result
            text = "".join(slow_pieces()) if slow else DONE if is_result else '{"title": "Task"}'
            output = [
                {
                    "type": "message",
                    "id": f"msg_{next(_ids)}",
                    "role": "assistant",
                    "status": "completed",
                    "content": [{"type": "output_text", "text": text, "annotations": []}],
                }
            ]
        response = {
            "id": f"resp_{next(_ids)}",
            "object": "response",
            "model": "model",
            "status": "completed",
            "output": output,
            "usage": {
                "input_tokens": 1,
                "output_tokens": 1,
                "total_tokens": 2,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens_details": {"reasoning_tokens": 0},
            },
        }
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.end_headers()

        def event(obj: dict[str, Any]) -> None:
            self.wfile.write(f"event: {obj['type']}\ndata: {json.dumps(obj)}\n\n".encode())
            self.wfile.flush()

        event(
            {
                "type": "response.created",
                "response": {**response, "status": "in_progress", "output": []},
            }
        )
        for index, item in enumerate(output):
            if item["type"] == "message" and self.slow and is_result:
                event(
                    {
                        "type": "response.output_item.added",
                        "output_index": index,
                        "item": {**item, "status": "in_progress", "content": []},
                    }
                )
                self._slowly(
                    lambda piece, index=index, item=item: event(
                        {
                            "type": "response.output_text.delta",
                            "item_id": item["id"],
                            "output_index": index,
                            "content_index": 0,
                            "delta": piece,
                        }
                    )
                )
            else:
                event({"type": "response.output_item.added", "output_index": index, "item": item})
            event({"type": "response.output_item.done", "output_index": index, "item": item})
        event({"type": "response.completed", "response": response})

    # ------------------------------------------------------------------ Chat Completions (qwen)

    def _chat(self, body: dict[str, Any]) -> None:
        messages = body.get("messages") or []
        last = messages[-1] if messages else {}
        is_result = last.get("role") == "tool"
        content = last.get("content") if last.get("role") == "user" else ""
        prompt = "\n".join(_texts(content))
        mark = MARKER.search(prompt) if not is_result else None
        names = [t.get("function", {}).get("name") for t in body.get("tools") or []]
        delta: dict[str, Any]
        finish = "stop"
        if mark and "run_shell_command" in names:
            self._log({"event": "prompt", "marker": mark.group(0), "chars": len(prompt)})
            if "TAKE YOUR TIME" in prompt:
                time.sleep(6)
            command = report_command(prompt, mark.group(0)) or "true"
            args = {"command": command, "description": "Append the report"}
            call = {
                "index": 0,
                "id": f"call_{next(_ids)}",
                "type": "function",
                "function": {"name": "run_shell_command", "arguments": json.dumps(args)},
            }
            delta, finish = {"role": "assistant", "tool_calls": [call]}, "tool_calls"
        else:
            if is_result:
                self._log({"event": "tool-result"})
            schema = (body.get("response_format") or {}).get("json_schema", {}).get("schema")
            if schema:
                text = json.dumps(_fill(schema))
            elif "[SUGGESTION MODE" in prompt:  # qwen-code's guess at what the user types next
                text = "Run the tests"
            else:
                text = DONE if is_result else "Task"
            delta = {"role": "assistant", "content": text}
        chunk = {
            "id": f"chatcmpl-{next(_ids)}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.get("model", "model"),
        }
        usage = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
        if not body.get("stream"):
            message = {k: v for k, v in delta.items()}
            for call in message.get("tool_calls", []):
                call.pop("index", None)
            self._json(
                {
                    **chunk,
                    "object": "chat.completion",
                    "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                    "usage": usage,
                }
            )
            return
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.end_headers()

        def send(choice: dict[str, Any]) -> None:
            self.wfile.write(f"data: {json.dumps({**chunk, 'choices': [choice]})}\n\n".encode())
            self.wfile.flush()

        if self.slow and is_result:
            self._slowly(
                lambda piece: send(
                    {
                        "index": 0,
                        "delta": {"role": "assistant", "content": piece},
                        "finish_reason": None,
                    }
                )
            )
        else:
            send({"index": 0, "delta": delta, "finish_reason": None})
        send({"index": 0, "delta": {}, "finish_reason": finish})
        self.wfile.write(
            f"data: {json.dumps({**chunk, 'choices': [], 'usage': usage})}\n\n".encode()
        )
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()

    # ------------------------------------------------------------------ Gemini (Gemini CLI)

    def _gemini(self, body: dict[str, Any], stream: bool) -> None:
        schema = (body.get("generationConfig") or {}).get("responseJsonSchema")
        contents = body.get("contents") or []
        parts = (contents[-1].get("parts") or []) if contents else []
        is_result = any(isinstance(p, dict) and "functionResponse" in p for p in parts)
        prompt = "\n".join(p.get("text", "") for p in parts if isinstance(p, dict))
        mark = MARKER.search(prompt) if not is_result else None
        reply: list[dict[str, Any]]
        if schema is not None:  # the model router and other side questions: any valid answer
            reply = [{"text": json.dumps(_fill(schema))}]
        elif mark and body.get("tools"):
            self._log({"event": "prompt", "marker": mark.group(0), "chars": len(prompt)})
            if "TAKE YOUR TIME" in prompt:
                time.sleep(6)
            command = report_command(prompt, mark.group(0)) or "true"
            args = {"command": command, "description": "Append the report"}
            reply = [{"functionCall": {"name": "run_shell_command", "args": args}}]
        else:
            if is_result:
                self._log({"event": "tool-result"})
            reply = [{"text": DONE if is_result else "Task"}]
        answer = {
            "candidates": [
                {"content": {"role": "model", "parts": reply}, "finishReason": "STOP", "index": 0}
            ],
            "usageMetadata": {
                "promptTokenCount": 1,
                "candidatesTokenCount": 1,
                "totalTokenCount": 2,
            },
        }
        if not stream:
            self._json(answer)
            return
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.end_headers()

        def send(obj: dict[str, Any]) -> None:
            self.wfile.write(f"data: {json.dumps(obj)}\n\n".encode())
            self.wfile.flush()

        if self.slow and is_result:
            # one piece per chunk; only the last says STOP and carries the usage
            last = slow_pieces()[-1]

            def piece_of(text: str) -> dict[str, Any]:
                parts = {"role": "model", "parts": [{"text": text}]}
                if text == last:
                    return {**answer, "candidates": [{"content": parts, **STOPPED}]}
                return {"candidates": [{"content": parts, "index": 0}]}

            self._slowly(lambda piece: send(piece_of(piece)))
        else:
            send(answer)

    def _json(self, obj: Any) -> None:
        data = json.dumps(obj).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, blocks: list[dict[str, Any]], stop: str, slow: bool = False) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.end_headers()

        def event(name: str, obj: dict[str, Any]) -> None:
            self.wfile.write(f"event: {name}\ndata: {json.dumps(obj)}\n\n".encode())
            self.wfile.flush()

        event(
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": f"msg_{next(_ids)}",
                    "type": "message",
                    "role": "assistant",
                    "model": "model",
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {"input_tokens": 1, "output_tokens": 1},
                },
            },
        )
        for index, block in enumerate(blocks):
            if block["type"] == "text":
                start = {"type": "text", "text": ""}
                delta = {"type": "text_delta", "text": block["text"]}
            else:
                start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
                delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
            event(
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": start},
            )
            if slow and block["type"] == "text":
                self._slowly(
                    lambda piece, index=index: event(
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": index,
                            "delta": {"type": "text_delta", "text": piece},
                        },
                    )
                )
            else:
                event(
                    "content_block_delta",
                    {"type": "content_block_delta", "index": index, "delta": delta},
                )
            event("content_block_stop", {"type": "content_block_stop", "index": index})
        event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": 1},
            },
        )
        event("message_stop", {"type": "message_stop"})


def main() -> None:
    Handler.log_path = sys.argv[2]
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()


if __name__ == "__main__":
    main()
