"""The one settings object: environment variables prefixed `COUNCIL_`.

The embedded SQLite database in the data directory is the default so that a
fresh machine runs the broker with no configuration; `COUNCIL_DATABASE_URL`
names PostgreSQL for real deployments and scale-out.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Everything the broker can be configured with."""

    model_config = SettingsConfigDict(env_prefix="COUNCIL_", extra="ignore")

    data_dir: Path = Field(default=Path("./council-data"))
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    # The key ring itself, base64 JSON, for deployments that keep keys in the
    # environment (a secret store) rather than in a 0600 file in the data dir.
    key_ring: SecretStr | None = None
    max_body_bytes: int = 1024 * 1024
    max_page_size: int = 200
    default_page_size: int = 50
    checkpoint_every_events: int = 256
    checkpoint_interval: timedelta = timedelta(seconds=30)
    log_level: str = "info"
    # Default feedback due time per item kind when a submission names none (SPEC §4).
    feedback_due_analysis: timedelta = timedelta(hours=24)
    feedback_due_countermeasure: timedelta = timedelta(hours=4)
    # Live delivery: events a connection may have waiting before it is closed
    # as too slow (it resumes from its cursor).
    stream_queue_size: int = 1000
    # How long routing may reuse the member directory (reads always re-check fresh).
    directory_ttl: timedelta = timedelta(seconds=5)
    # How often webhook retries that fell due are looked for (new events wake it at once).
    webhook_poll_interval: timedelta = timedelta(seconds=1)
    reminder_lead: timedelta = timedelta(hours=1)
    sweep_interval: timedelta = timedelta(seconds=30)
    # The task force's contribution thresholds (charter annex: a member that does
    # not contribute cannot keep its status; charter art. 24(5): the task force
    # sets them). Members below either are flagged in the ledger for review.
    contribution_min_original_submissions: int = Field(default=1, ge=0)
    contribution_min_on_time_ratio: float = Field(default=0.8, ge=0.0, le=1.0)
    # Webhooks carry members' events out, so they reach public addresses only:
    # loopback, link-local (cloud metadata), private and unresolvable targets are
    # refused at registration and at delivery, or a member could make the broker
    # probe its own network. The operator may allow chosen host names, addresses
    # or networks (CIDR), as JSON (`["siem.internal", "10.1.0.0/16"]`), and
    # private networks as a whole (never loopback or link-local that way).
    webhook_allow_hosts: list[str] = Field(default_factory=list)
    webhook_allow_private: bool = False
    # The portal (/portal/): a signed-in session ends after this long without a
    # request; its cookie is Secure whenever the request came over TLS, and
    # always when this is set (TLS ended at a proxy in front of the broker).
    portal_session_idle: timedelta = timedelta(minutes=30)
    portal_secure_cookies: bool = False
    # Sessions one replica keeps in memory at most (the least recently used go first).
    portal_max_sessions: int = Field(default=10_000, ge=1)
    # How deeply a request body may nest arrays and objects: checked before
    # parsing, since the JSON parser, validation and serialisation all recurse.
    max_json_depth: int = Field(default=64, ge=1, le=500)
    # TLS on the broker itself (README, "TLS"): a PEM certificate chain and its
    # key. TLS 1.2 at least, 1.3 preferred; 1.0 and 1.1 are refused. With
    # `client_ca`, clients may present a certificate from that CA; every
    # authenticated request must then come with one that names its user.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    client_ca: Path | None = None
    # Reverse proxies whose X-Forwarded-For is believed (addresses or CIDR
    # networks, JSON): the source address that throttling counts is the
    # nearest address in that header not in this list. Empty: the peer itself.
    trusted_proxies: list[str] = Field(default_factory=list)
    # Failed sign-ins a source address, or a claimed user, may make in a minute
    # before it is answered 429 with Retry-After (counted per replica, in memory).
    auth_failures_per_minute: int = Field(default=30, ge=1)
    # A user's token: requests per second sustained, and in a burst (0: no limit).
    token_requests_per_second: float = Field(default=100.0, ge=0.0)
    token_burst: int = Field(default=1000, ge=1)
    # Live streams (WebSocket or SSE) one user may hold open on one replica.
    max_streams_per_user: int = Field(default=8, ge=1)
    # The request line and each header line, in bytes, and how many headers.
    max_header_bytes: int = Field(default=8190, ge=1024)
    max_headers: int = Field(default=100, ge=8)
    # How long a connection may sit without a complete request (its headers
    # included: a client that dribbles them is cut, the slowloris defence), and
    # how long a request body may take to arrive.
    idle_timeout: timedelta = Field(default=timedelta(seconds=30), gt=timedelta(0))
    body_timeout: timedelta = Field(default=timedelta(seconds=30), gt=timedelta(0))
    # The bearer token `GET /metrics` requires (per-route counts say who is
    # active); without one the metrics endpoint is not served at all.
    metrics_token: SecretStr | None = None

    @property
    def resolved_database_url(self) -> str:
        """The database to use: COUNCIL_DATABASE_URL, else SQLite in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'council.db').resolve()}"

    @property
    def key_ring_path(self) -> Path:
        """Where the file-backed key ring lives (outside the database, 0600)."""
        return self.data_dir / "keyring.json"
