"""``kumahc serve``: the snapshot cache (what each proxy should have, versioned) kept apart from the protocol
servers (SotW and Delta streams) that send it, as go-control-plane does (spec 06)."""
