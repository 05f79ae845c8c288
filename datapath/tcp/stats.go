package tcp

import "sync/atomic"

// ConnStats are per-connection counters, written by the engine, readable from any goroutine.
type ConnStats struct {
	SegsIn, SegsOut       atomic.Uint64
	BytesIn, BytesOut     atomic.Uint64 // payload bytes, first transmissions for BytesOut
	Retransmits           atomic.Uint64 // retransmitted segments (any cause)
	RetransBytes          atomic.Uint64
	FastRetransmits       atomic.Uint64 // recovery episodes entered by dupacks/SACK
	Timeouts              atomic.Uint64 // RTO expirations
	LostRetransmits       atomic.Uint64 // retransmissions detected lost via SACK
	TailLossProbes        atomic.Uint64
	RACKLosses            atomic.Uint64 // recoveries entered by the time-based (RACK-like) rule
	DupAcksIn             atomic.Uint64
	OutOfOrderIn          atomic.Uint64
	DroppedIn             atomic.Uint64 // unacceptable or unqueueable segments
	ChallengeAcks         atomic.Uint64
	PAWSDrops             atomic.Uint64
	ZeroWindowProbes      atomic.Uint64
	KeepAliveProbes       atomic.Uint64
	SRTTMicros            atomic.Uint64
	CwndBytes, SsthreshBy atomic.Uint64
}

// EngineStats are per-engine counters.
type EngineStats struct {
	FramesIn, FramesOut atomic.Uint64
	ParseErrors         atomic.Uint64
	BadChecksum         atomic.Uint64
	PartialChecksums    atomic.Uint64 // accepted under Config.AcceptPartialChecksum
	BadOffset           atomic.Uint64
	BadOptions          atomic.Uint64
	BadFlags            atomic.Uint64
	NotForUs            atomic.Uint64
	NoConnection        atomic.Uint64 // segments answered with RST (or dropped) for want of a connection
	RSTsOut             atomic.Uint64
	SynBacklogDrops     atomic.Uint64
	AcceptQueueDrops    atomic.Uint64
	ChallengeAckLimited atomic.Uint64
	TxStalls            atomic.Uint64 // no transmit buffer available
	KeptFrames          atomic.Int64  // data frames held for retransmission (sent, not yet acknowledged)
	ConnsOpened         atomic.Uint64
	ConnsClosed         atomic.Uint64
	ConnsActive         atomic.Int64
}
