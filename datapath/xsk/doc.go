// Package xsk is xtgt's AF_XDP socket layer (Linux Documentation/networking/
// af_xdp.rst): one Socket per receive queue, with its own UMEM and the four
// rings (fill, completion, RX, TX), batch receive and transmit of frames that
// are []byte views into UMEM (no copy), frame recycling, registration in the
// classifier's XSKMAP (package bpf), copy or zero-copy binding with automatic
// fallback, the need_wakeup protocol, and statistics.
//
// API (one goroutine drives a Socket; nothing here allocates per frame):
//
//	s, err := xsk.Open(xsk.Config{Ifindex: idx, Queue: 0})
//	s.Register(steering)                 // *bpf.Steering: XSKMAP[queue] = s.Fd()
//	frames := make([]xsk.Frame, 64)
//	for {
//		s.Poll(time.Second)              // wait for RX, reap TX completions
//		n := s.Receive(frames)           // frames[i].Data: whole Ethernet frame in UMEM
//		... consume ...
//		s.ReleaseBatch(frames[:n])       // back to the fill ring
//		f, ok := s.GetTxFrame()          // build an outgoing frame in UMEM
//		f.Data = f.Data[:build(f.Data)]
//		s.Transmit([]xsk.Frame{f})       // TX ring + kick; frame returns via Complete
//	}
//
// UMEM layout: NumFrames frames of FrameSize bytes; the first half is handed
// to the kernel on the fill ring for RX, the second half is the TX pool. A
// received frame may be passed to Transmit instead of Release (it then joins
// the TX pool when completed).
//
// Why not github.com/asavie/xdp (v0.3.3, pinned in go.mod): it was the brief's
// starting point and we read it closely, but its Socket cannot be used under
// this API: Close does not unmap the four ring mappings (each mapping keeps
// the socket, its UMEM and the queue binding alive, so the queue cannot be
// bound again by a restarted daemon), Transmit panics on errors such as
// ENETDOWN, Receive marks frames free while the caller still holds them,
// Complete discards the completed addresses, the ring flags word is not
// exposed (so need_wakeup cannot be honoured) and bind flags are a package
// global. The socket is therefore built directly on golang.org/x/sys/unix,
// following the same kernel protocol.
package xsk
