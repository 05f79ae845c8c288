package tcp

import (
	"log/slog"
	"net/netip"
	"time"
)

// Config configures an Engine. Zero values select the defaults noted.
type Config struct {
	Logger     *slog.Logger
	Addrs      []netip.Addr // local addresses the engine answers for (required)
	SendBuffer int          // per-connection unacknowledged bytes in flight (default 1 MiB)
	// StageMax is the largest write buffer copied into the connection's staging ring so that
	// the write returns at once (default 16 KiB; negative: none). Larger buffers are copied by
	// the engine straight into transmit frames, and the write waits for that.
	StageMax   int
	RecvBuffer int // per-connection receive window bytes (default 1 MiB)
	// CongestionControl is "cubic" (default) or "newreno".
	CongestionControl string
	DisableSACK       bool
	DisableTimestamps bool
	DisableWScale     bool
	DelayedAck        time.Duration // default 40ms; negative disables delayed ACK
	MinRTO            time.Duration // default 200ms
	MaxRTO            time.Duration // default 60s
	InitialRTO        time.Duration // default 1s (RFC 6298 §2.1)
	MaxRetries        int           // RTO backoffs before giving up (default 15)
	SynRetries        int           // SYN / SYN-ACK retransmissions (default 5)
	TimeWait          time.Duration // default 60s
	SynBacklog        int           // per-listener half-open connections (default 256)
	AcceptBacklog     int           // per-listener accept queue (default 128)
	KeepAliveIdle     time.Duration // 0 disables keepalive
	KeepAliveInterval time.Duration // default 75s
	KeepAliveCount    int           // default 9
	ChallengeAckLimit int           // challenge ACKs per second per engine (default 1000, RFC 5961 §7)
	// AcceptPartialChecksum accepts TCP segments whose checksum field holds only the folded
	// pseudo-header sum, as a Linux sender's CHECKSUM_PARTIAL packets arrive over a veth to
	// AF_XDP or AF_PACKET (the kernel never completed them: nothing crossed a wire). Set it for
	// veth links only; counted in EngineStats.PartialChecksums.
	AcceptPartialChecksum bool
	// Resolve returns the Ethernet address to use for an active open to addr (neighbour or
	// gateway). Required for Dial.
	Resolve func(addr netip.Addr) (MAC, error)
}

func (c *Config) withDefaults() Config {
	d := *c
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	def := func(v *int, x int) {
		if *v <= 0 {
			*v = x
		}
	}
	defd := func(v *time.Duration, x time.Duration) {
		if *v == 0 {
			*v = x
		}
	}
	def(&d.SendBuffer, 1<<20)
	def(&d.RecvBuffer, 1<<20)
	if d.StageMax == 0 {
		d.StageMax = 16 << 10
	}
	def(&d.MaxRetries, 15)
	def(&d.SynRetries, 5)
	def(&d.SynBacklog, 256)
	def(&d.AcceptBacklog, 128)
	def(&d.KeepAliveCount, 9)
	def(&d.ChallengeAckLimit, 1000)
	defd(&d.DelayedAck, 40*time.Millisecond)
	defd(&d.MinRTO, 200*time.Millisecond)
	defd(&d.MaxRTO, 60*time.Second)
	defd(&d.InitialRTO, time.Second)
	defd(&d.TimeWait, 60*time.Second)
	defd(&d.KeepAliveInterval, 75*time.Second)
	return d
}
