package tcp

import (
	"context"
	"fmt"
	"time"
)

// ConnInfo is a consistent snapshot of a connection's protocol state (like TCP_INFO).
type ConnInfo struct {
	State                        State
	SndUna, SndNxt, SndMax       Seq
	RcvNxt                       Seq
	SndWnd, RcvWnd               int
	SndMSS, RcvMSS               int
	Cwnd, Ssthresh, Pipe         int
	SRTT, RTTVar, RTO            time.Duration
	InRecovery                   bool
	Sacked                       int
	OutOfOrder                   int
	Timestamps, SACK, WindowScal bool
	Backoff, Retries             int
	Buffered                     int
}

func (i ConnInfo) String() string {
	return fmt.Sprintf("%v una=%d nxt=%d max=%d rcvnxt=%d swnd=%d rwnd=%d cwnd=%d ssth=%d pipe=%d srtt=%v rto=%v rec=%v sacked=%d ooo=%d retries=%d buf=%d",
		i.State, i.SndUna, i.SndNxt, i.SndMax, i.RcvNxt, i.SndWnd, i.RcvWnd, i.Cwnd, i.Ssthresh, i.Pipe, i.SRTT, i.RTO,
		i.InRecovery, i.Sacked, i.OutOfOrder, i.Retries, i.Buffered)
}

// Info returns a snapshot taken on the engine goroutine.
func (c *Conn) Info() ConnInfo {
	var i ConnInfo
	_ = c.eng.do(context.Background(), func() {
		i = ConnInfo{State: c.state, SndUna: c.sndUna, SndNxt: c.sndNxt, SndMax: c.sndMax, RcvNxt: c.rcvNxt,
			SndWnd: c.sndWnd, RcvWnd: c.rcvAdv.Sub(c.rcvNxt), SndMSS: c.sndMSS, RcvMSS: c.rcvMSS,
			Cwnd: c.cc.Cwnd(), Ssthresh: c.cc.Ssthresh(), Pipe: c.pipe(),
			SRTT: time.Duration(c.srtt), RTTVar: time.Duration(c.rttvar), RTO: time.Duration(c.rto),
			InRecovery: c.inRecovery, Sacked: c.sackedBytes(), OutOfOrder: len(c.ooo),
			Timestamps: c.tsOK, SACK: c.sackOK, WindowScal: c.wsOK, Backoff: c.backoff, Retries: c.retries,
			Buffered: int(c.sq.head.Load() - c.unaIdx)}
	})
	return i
}
