"""``cove explain``: print a reachability verdict, its path and every blocker."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table

__all__ = ["render"]


def render(result: dict[str, Any], console: Console) -> None:
    decision = result["decision"]
    colour = "green" if decision == "ALLOW" else "red"
    flow = result["flow"]
    what = f"{result['source']} → {result['destination']}"
    if flow.get("port") is not None:
        what += f" {_protocol(flow['protocol'])}/{flow['port']}"
    console.print(f"[bold {colour}]{decision}[/]  {what}", highlight=False)
    if result.get("request"):
        req = result["request"]
        console.print(f"request: {req['action']} on {req['resource']}", highlight=False)

    path = Table(
        "#", "component", "type", "action", "rule", "detail", title="forward path", title_justify="left"
    )
    for hop in result["path"]:
        action = hop["action"]
        style = "red" if action == "deny" else ""
        path.add_row(
            str(hop["sequence"]),
            hop["component_id"],
            hop["component_type"] + (f" ({hop['direction']})" if hop["direction"] else ""),
            f"[{style}]{action}[/]" if style else action,
            hop["rule"],
            hop["detail"],
        )
    console.print(path)
    if result["return_path"]:
        ret = Table("#", "component", "type", "action", "rule", title="return path", title_justify="left")
        for hop in result["return_path"]:
            ret.add_row(
                str(hop["sequence"]), hop["component_id"], hop["component_type"], hop["action"], hop["rule"]
            )
        console.print(ret)

    if result["blockers"]:
        console.print(f"[bold red]{len(result['blockers'])} blocker(s)[/]")
        for b in result["blockers"]:
            rule = f" (rule {b['rule']})" if b["rule"] else ""
            console.print(
                f"  [red]{b['code']}[/] {b['component_id']}{rule} [{b['path']}]: {b['message']}",
                highlight=False,
            )
    for check in result.get("policies", []):
        ok = check["decision"] == "allowed"
        mark = "[green]allowed[/]" if ok else f"[red]{check['decision']}[/]"
        sids = ", ".join(check["statements"]) or "no statement matched"
        note = f" — {check['note']}" if check["note"] else ""
        console.print(f"  {check['layer']} {check['policy']}: {mark} by {sids}{note}", highlight=False)
    auth = result.get("authorization")
    if auth and auth.get("message"):
        console.print(f"  [red]AccessDenied[/]: {auth['message']}", highlight=False)


def _protocol(number: int) -> str:
    return {6: "tcp", 17: "udp", 1: "icmp", -1: "all"}.get(number, str(number))


def dumps(result: dict[str, Any]) -> str:
    return json.dumps(result, indent=2, sort_keys=True)
