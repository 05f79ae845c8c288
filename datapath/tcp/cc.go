package tcp

// CongestionControl decides cwnd and ssthresh; loss detection and recovery stay in the connection.
// All quantities are bytes; now is the engine clock in ns. Implementations are per connection and
// are called only from the engine goroutine.
type CongestionControl interface {
	// Init sets the initial window (RFC 5681 §3.1 IW).
	Init(mss int)
	// OnAck is called for an ACK that advances snd.una outside recovery; acked is the newly
	// acknowledged byte count, rtt the latest smoothed RTT in ns (0 if unknown).
	OnAck(acked int, now, rtt int64)
	// OnCongestion is called on entering fast recovery with the bytes in flight; it sets ssthresh
	// and cwnd for recovery (cwnd = ssthresh).
	OnCongestion(flight int, now int64)
	// OnRTO is called on a retransmission timeout: ssthresh from flight, cwnd = 1 MSS.
	OnRTO(flight int, now int64)
	// Cwnd and Ssthresh return the current values.
	Cwnd() int
	Ssthresh() int
	// SetCwnd overrides cwnd (recovery inflation/deflation, RFC 6582).
	SetCwnd(int)
}

// NewCongestionControl returns a controller by name ("cubic" or "newreno"; "" means cubic).
func NewCongestionControl(name string) CongestionControl {
	if name == "newreno" || name == "reno" {
		return &NewReno{}
	}
	return &Cubic{}
}

func initialWindow(mss int) int { return min(10*mss, max(2*mss, 14600)) } // RFC 6928

// NewReno is RFC 5681 slow start / congestion avoidance with RFC 3465 ABC (L=2).
type NewReno struct {
	cwnd, ssthresh, mss int
	acc                 int
}

func (r *NewReno) Init(mss int) { r.mss = mss; r.cwnd = initialWindow(mss); r.ssthresh = 1 << 30 }
func (r *NewReno) Cwnd() int    { return r.cwnd }
func (r *NewReno) SetCwnd(c int) {
	r.cwnd = max(c, r.mss)
}
func (r *NewReno) Ssthresh() int { return r.ssthresh }

func (r *NewReno) OnAck(acked int, now, rtt int64) {
	if r.cwnd < r.ssthresh {
		r.cwnd += min(acked, 2*r.mss)
		return
	}
	r.acc += acked
	if r.acc >= r.cwnd {
		r.acc -= r.cwnd
		r.cwnd += r.mss
	}
}

func (r *NewReno) OnCongestion(flight int, now int64) {
	r.ssthresh = max(flight/2, 2*r.mss)
	r.cwnd = r.ssthresh
	r.acc = 0
}

func (r *NewReno) OnRTO(flight int, now int64) {
	r.ssthresh = max(flight/2, 2*r.mss)
	r.cwnd = r.mss
	r.acc = 0
}
