"""W4's baseline: a bare FastAPI endpoint returning a constant, served like ``jobqueue serve``."""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()


@app.get("/constant")
async def constant() -> dict[str, str]:
    return {"status": "ok"}
