//! The arguments of `pmq bridge out` and `pmq bridge in`: defined here, in
//! the command's library, so that `pmq` shows them in its help, man page and
//! completions and checks them before it runs the separate `pmq-bridge`
//! program (crate bridge/), which parses the same definitions.

use std::path::PathBuf;

use clap::{Args, Subcommand};

#[derive(Subcommand, Debug)]
pub enum BridgeCmd {
    /// Receive from local QUEUE, publish each message to JetStream and wait for its
    /// acknowledgement (taken messages are kept in a local journal until then; a shm queue's
    /// messages are leased instead and acked in the queue after it, each published with
    /// Nats-Msg-Id INSTANCE-SEQ, so a bridge killed at any moment loses none and JetStream
    /// stores none twice). Transient failures (server down, timeouts) are retried; a refusal
    /// retrying cannot fix (a subject too long for the server, a permission) ends the bridge
    /// with exit status 1, the messages kept in the journal (or the queue)
    Out(OutArgs),
    /// Durable JetStream consumer: send each message into local QUEUE, then acknowledge it
    In(InArgs),
}

#[derive(Args, Debug)]
pub struct OutArgs {
    /// Local queue to receive from, e.g. /jobs
    pub queue: String,
    #[command(flatten)]
    pub nats: NatsArgs,
}

#[derive(Args, Debug)]
pub struct InArgs {
    /// Local queue to send into, e.g. /jobs
    pub queue: String,
    /// Name of the durable JetStream consumer (created if missing; its position survives restarts)
    #[arg(long, value_name = "NAME")]
    pub durable: String,
    /// With a consumer created here: seconds JetStream waits for an acknowledgement before
    /// delivering a message again
    #[arg(long, value_name = "S", default_value_t = 30.0)]
    pub ack_wait: f64,
    #[command(flatten)]
    pub nats: NatsArgs,
}

#[derive(Args, Debug)]
pub struct NatsArgs {
    /// NATS server URL, or several separated by commas: nats://HOST:4222, tls://HOST:4222
    /// (user:password@ in the URL works too)
    #[arg(long, value_name = "URL")]
    pub nats: String,
    /// Subject the messages are published on (bridge in: the consumer's filter; wildcards allowed)
    #[arg(long, value_name = "SUBJ")]
    pub subject: String,
    /// NATS credentials file (the JWT and NKey seed that `nsc` writes)
    #[arg(long, value_name = "FILE")]
    pub creds: Option<PathBuf>,
    /// User name; the password comes from --password or the environment variable
    /// PMQ_NATS_PASSWORD (which keeps it out of `ps`)
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// Password for --user
    #[arg(long, value_name = "PASSWORD", requires = "user")]
    pub password: Option<String>,
    /// Authentication token
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
    /// CA certificate (PEM) that signed the server's TLS certificate; implies TLS
    #[arg(long, value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,
    /// Client certificate (PEM) for TLS client authentication (with --tls-key)
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// Private key (PEM) of --tls-cert
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// JetStream stream [default: the stream that captures --subject; with --create-stream,
    /// PMQ_ followed by the subject with its dots and wildcards as _]
    #[arg(long, value_name = "NAME")]
    pub stream: Option<String>,
    /// Create the stream if it does not exist (file storage, capturing --subject)
    #[arg(long)]
    pub create_stream: bool,
    /// With --create-stream: the stream's duplicate window in seconds (a message id published
    /// again within it is dropped)
    #[arg(long, value_name = "S", default_value_t = 120.0)]
    pub duplicate_window: f64,
    /// The bridge's journal [default: $XDG_STATE_HOME/pmq/ or ~/.local/state/pmq/, named
    /// after the direction, backend, queue (and durable)]. An existing file that is not a
    /// journal is refused and left as it is. A damaged journal: every intact record is still
    /// used, a copy is kept as PATH.damaged-TIME, a WARNING line says what could not be read,
    /// and the run exits 1 when it stops. `bridge out` of a shm queue makes none (it leases);
    /// one left there by an earlier run is still published first
    #[arg(long, value_name = "PATH")]
    pub journal: Option<PathBuf>,
    /// Print messages/s and the backlog to standard error every S seconds [S: 2]
    #[arg(long, value_name = "S", num_args = 0..=1, default_missing_value = "2")]
    pub stats: Option<f64>,
    /// Most messages handled together (one journal fsync per batch)
    #[arg(long, value_name = "N", default_value_t = 256,
          value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub batch: u32,
}
