package tcp

import "math/bits"

// Timer wheel: hashed, 1 ms ticks, wheelSlots slots. Each connection owns one intrusive timer
// entry armed at the earliest of its deadlines; entries whose deadline lies beyond one rotation
// stay in their slot until their turn comes. No allocation on arm/disarm.
const (
	wheelTickNs = int64(1_000_000)
	wheelSlots  = 4096
	wheelMask   = wheelSlots - 1
)

type timerEntry struct {
	when       int64 // absolute ns; 0 = disarmed
	slot       int
	prev, next *timerEntry
	conn       *Conn
}

type timerWheel struct {
	slots  [wheelSlots]*timerEntry
	occ    [wheelSlots / 64]uint64
	tick   int64 // last processed tick
	nArmed int
}

func (w *timerWheel) init(now int64) { w.tick = now / wheelTickNs }

func (w *timerWheel) arm(e *timerEntry, when int64) {
	if e.when != 0 {
		if e.when == when {
			return
		}
		w.disarm(e)
	}
	t := when / wheelTickNs
	if t <= w.tick {
		t = w.tick + 1
	}
	s := int(t & wheelMask)
	e.when = when
	e.slot = s
	e.prev = nil
	e.next = w.slots[s]
	if e.next != nil {
		e.next.prev = e
	}
	w.slots[s] = e
	w.occ[s/64] |= 1 << (s % 64)
	w.nArmed++
}

func (w *timerWheel) disarm(e *timerEntry) {
	if e.when == 0 {
		return
	}
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		w.slots[e.slot] = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	}
	if w.slots[e.slot] == nil {
		w.occ[e.slot/64] &^= 1 << (e.slot % 64)
	}
	e.when, e.prev, e.next = 0, nil, nil
	w.nArmed--
}

// advance fires every entry whose deadline is <= now, calling fire for each (after disarming).
func (w *timerWheel) advance(now int64, fire func(*timerEntry)) {
	target := now / wheelTickNs
	if target <= w.tick {
		return
	}
	n := target - w.tick
	if n > wheelSlots {
		n = wheelSlots
	}
	for i := int64(1); i <= n; i++ {
		s := int((w.tick + i) & wheelMask)
		for e := w.slots[s]; e != nil; {
			next := e.next
			if e.when <= now {
				w.disarm(e)
				fire(e)
			}
			e = next
		}
	}
	// Entries in the current tick's slot whose deadline lies later in this tick stay there;
	// revisit that slot next time.
	w.tick = target - 1
}

// nextDelay returns the ns until the next occupied slot (an upper bound on the wait), or -1.
func (w *timerWheel) nextDelay(now int64) int64 {
	if w.nArmed == 0 {
		return -1
	}
	start := int((w.tick + 1) & wheelMask)
	for k := 0; k <= wheelSlots/64; k++ {
		wi := (start/64 + k) % (wheelSlots / 64)
		word := w.occ[wi]
		if k == 0 {
			word &^= (1 << (start % 64)) - 1
		}
		if word != 0 {
			s := wi*64 + bits.TrailingZeros64(word)
			d := int64((s - start + wheelSlots) & wheelMask)
			at := (w.tick + 1 + d) * wheelTickNs
			if at <= now {
				return at + wheelTickNs - now
			}
			return at - now
		}
	}
	return int64(wheelSlots) * wheelTickNs
}
