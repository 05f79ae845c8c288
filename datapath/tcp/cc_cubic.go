package tcp

import "math"

// Cubic is CUBIC congestion control (RFC 9438) with fast convergence and the Reno-friendly
// region; windows are tracked in bytes, the cubic function in segments.
type Cubic struct {
	cwnd, ssthresh, mss int
	wMax                float64 // segments
	wLastMax            float64
	k                   float64 // seconds
	epoch               int64   // ns; 0 = no epoch
	cwndEpoch           float64 // segments at epoch start
	wEst                float64 // segments, Reno-friendly estimate
	acc                 float64
}

const (
	cubicC    = 0.4
	cubicBeta = 0.7
)

func (c *Cubic) Init(mss int) {
	c.mss = mss
	c.cwnd = initialWindow(mss)
	c.ssthresh = 1 << 30
}
func (c *Cubic) Cwnd() int     { return c.cwnd }
func (c *Cubic) Ssthresh() int { return c.ssthresh }
func (c *Cubic) SetCwnd(w int) { c.cwnd = max(w, c.mss) }
func (c *Cubic) segs() float64 { return float64(c.cwnd) / float64(c.mss) }
func (c *Cubic) resetEpoch()   { c.epoch = 0 }

func (c *Cubic) OnAck(acked int, now, rtt int64) {
	if c.cwnd < c.ssthresh {
		c.cwnd += min(acked, 2*c.mss)
		return
	}
	if c.epoch == 0 {
		c.epoch = now
		c.cwndEpoch = c.segs()
		if c.wMax <= c.cwndEpoch {
			c.k = 0
			c.wMax = c.cwndEpoch
		} else {
			c.k = math.Cbrt((c.wMax - c.cwndEpoch) / cubicC) // RFC 9438 §4.2 eq. 2
		}
		c.wEst = c.cwndEpoch
	}
	t := float64(now-c.epoch) / 1e9
	r := float64(rtt) / 1e9
	target := c.wMax + cubicC*math.Pow(t+r-c.k, 3) // W_cubic(t+RTT)
	cur := c.segs()
	// Reno-friendly estimate (RFC 9438 §4.3), alpha = 3(1-beta)/(1+beta).
	alpha := 3 * (1 - cubicBeta) / (1 + cubicBeta)
	if c.wEst >= c.wMax {
		alpha = 1
	}
	c.wEst += alpha * float64(acked) / float64(c.mss) / cur
	if c.wEst > target {
		target = c.wEst
	}
	if target > 1.5*cur {
		target = 1.5 * cur
	}
	if target <= cur {
		return
	}
	// Increase by (target-cwnd)/cwnd per acked segment.
	inc := (target - cur) / cur * float64(acked)
	c.acc += inc
	if c.acc >= 1 {
		c.cwnd += int(c.acc)
		c.acc -= float64(int(c.acc))
	}
}

func (c *Cubic) OnCongestion(flight int, now int64) {
	cur := c.segs()
	if cur < c.wLastMax {
		c.wLastMax = cur
		c.wMax = cur * (1 + cubicBeta) / 2 // fast convergence
	} else {
		c.wLastMax = cur
		c.wMax = cur
	}
	c.ssthresh = max(int(float64(flight)*cubicBeta), 2*c.mss)
	c.cwnd = c.ssthresh
	c.resetEpoch()
}

func (c *Cubic) OnRTO(flight int, now int64) {
	c.OnCongestion(flight, now)
	c.cwnd = c.mss
	c.resetEpoch()
}
