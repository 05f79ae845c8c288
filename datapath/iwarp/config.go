package iwarp

import (
	"log/slog"
	"time"
)

// Config selects the MPA options a device negotiates.
type Config struct {
	// Markers asks the peer to insert MPA markers in the data it sends us (M flag; per direction).
	Markers bool
	// MatchPeerMarkers makes a responder also ask for markers when the initiator did (benchmark servers).
	MatchPeerMarkers bool
	// CRC asks for MPA CRC32C (used when either side asks).
	CRC bool
	// Rev is the MPA revision offered: 2 (default, RFC 6581 enhanced) or 1.
	Rev int
	// DisableP2P turns off the RFC 6581 peer-to-peer RTR exchange under Rev 2.
	DisableP2P bool
	// RecvBuffer is the per-QP stream receive buffer (default 256 KiB).
	RecvBuffer int
	// HandshakeTimeout bounds MPA Request/Reply exchange (default 10s).
	HandshakeTimeout time.Duration
	Logger           *slog.Logger
}

func (c *Config) fill() {
	if c.Rev != 1 {
		c.Rev = 2
	}
	if c.RecvBuffer <= 0 {
		c.RecvBuffer = 256 << 10
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}
