def beat(client, **body):
    """POST a heartbeat as ``client`` (an agent client); returns the response."""
    body.setdefault("status", "idle")
    return client.post("/api/v1/agent/heartbeat", body, format="json")
