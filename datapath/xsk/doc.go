// Package xsk is xtgt's AF_XDP socket layer (Linux Documentation/networking/
// af_xdp.rst): one Socket per receive queue, with its own UMEM and the four
// rings (fill, completion, RX, TX), batch receive and transmit of frames that
// are []byte views into UMEM (no copy), frame recycling, registration in the
// classifier's XSKMAP (package bpf), copy or zero-copy binding with automatic
// fallback, the need_wakeup protocol, multi-buffer packets (XDP_USE_SG),
// and statistics.
//
// API (one goroutine drives a Socket; nothing here allocates per frame):
//
//	s, err := xsk.Open(xsk.Config{Ifindex: idx, Queue: 0})
//	s.Register(steering)                 // *bpf.Steering: XSKMAP[queue] = s.Fd()
//	frames := make([]xsk.Frame, 64)
//	for {
//		s.Poll(time.Second)              // wait for RX, reap TX completions
//		n := s.Receive(frames)           // frames[i].Data: Ethernet frame in UMEM (More: continued)
//		... consume ...
//		s.ReleaseBatch(frames[:n])       // back to the fill ring
//		f, ok := s.GetTxFrame()          // build an outgoing frame in UMEM
//		f.Data = f.Data[:build(f.Data)]
//		s.Transmit([]xsk.Frame{f})       // TX ring + kick; frame returns via Complete
//	}
//
// UMEM layout: NumFrames frames of FrameSize bytes; the first half is handed
// to the kernel on the fill ring for RX, the second half is the TX pool
// (TxFrames frames). A received frame may be passed to Transmit instead of
// Release (it then joins the TX pool when completed).
//
// Retained TX frames (for a TCP engine that keeps what it sent until it is
// acknowledged, and retransmits without another copy):
//
//	f.Keep = true
//	s.Transmit([]xsk.Frame{f})   // its completion leaves it the caller's
//	...
//	if !s.InFlight(f) { ... }    // completed: the kernel no longer reads it
//	s.Transmit([]xsk.Frame{f})   // send it again (Keep again, or not: then
//	                             // it joins the pool when completed)
//	s.PutTxFrame(f)              // give it back; if still in flight, it
//	                             // joins the pool when its completion is reaped
//
// Ownership is tracked per UMEM frame in a small array (in-flight count,
// kept, on the free list): no maps, nothing allocated per frame. A frame
// may be queued again while in flight; it must not be modified then.
// Stats.TxKept counts the frames retained now; TxFrames bounds how many a
// caller should retain.
//
// TX checksum offload (Config.TxChecksum, Linux Documentation/networking/
// xsk-tx-metadata.rst): the UMEM is registered with
// XDP_UMEM_TX_METADATA_LEN and TxMetadataLen (24) bytes of struct
// xsk_tx_metadata in front of every TX frame's data, so GetTxFrame's frames
// start 24 bytes into their chunk (Addr is still the offset of Data[0]).
// A frame with CsumOffset != 0 carries a request (metadata flags
// XDP_TXMD_FLAGS_CHECKSUM, csum_start = CsumStart, csum_offset =
// CsumOffset, descriptor option XDP_TX_METADATA): the caller stores the
// folded pseudo-header sum in the checksum field, as for a NIC's
// CHECKSUM_PARTIAL, and the kernel or device completes it; UMEM is not
// written, so a retained frame can be resent as is.
//   - Copy mode (verified on Linux 6.18, veth): the kernel builds a
//     CHECKSUM_PARTIAL skb. veth hands it to its peer unchanged, whose stack
//     trusts it (a capture there shows the partial sum,
//     TP_STATUS_CSUMNOTREADY); a device without checksum offload, or
//     TxChecksumSoftware (XDP_UMEM_TX_SW_CSUM), makes the kernel fill in the
//     full checksum before the frame leaves.
//   - Zero-copy: the driver's xsk_tx_metadata_ops do it. The offload is
//     reported (TxChecksumOffload) only if the device advertises
//     tx-checksum in netdev xsk-features (generic netlink); otherwise a
//     checksum request fails with ErrNoChecksumOffload and the caller
//     computes checksums itself. Not testable here (veth has no
//     zero-copy).
//   - A kernel that refuses the metadata (EINVAL: TX metadata came with
//     Linux 6.8, the XDP_UMEM_TX_METADATA_LEN flag that now turns it on in
//     mid-2024; older kernels reject the flag) gets a plain UMEM:
//     TxChecksumOffload and TxMetadata report false.
//
// Transmit refuses (ErrBadFrame, queuing the packets before) what the
// kernel would drop or would loop on: frames outside UMEM, empty or
// crossing their chunk, starting inside the metadata area, or with a
// checksum request past their end; packets it would not send whole (see
// below).
//
// Multi-buffer packets (Config.MultiBuffer; Linux Documentation/networking/
// af_xdp.rst, "Multi-Buffer Support"), for MTUs above what one frame holds:
// the socket is bound with XDP_USE_SG. Every binding is tried with it
// before any without (copy mode with it is preferred to zero-copy
// without: a caller asking for it has packets no single frame holds); a
// kernel or driver that refuses it (EOPNOTSUPP, EINVAL) gets a socket
// without it, and MultiBuffer reports which. A packet is then a run of
// frames, every one but its last with Frame.More (descriptor option
// XDP_PKT_CONTD):
//
//	pkt := []xsk.Frame{a, b, c}                  // from GetTxFrame, filled
//	pkt[0].More, pkt[1].More = true, true
//	pkt[0].CsumStart, pkt[0].CsumOffset = 34, 6  // first frame only
//	n, err := s.Transmit(pkt)                    // 3, or 0: never part
//
// In detail:
//
//   - Transmit queues a packet whole or not at all: without room on the TX
//     ring for all its frames it stops before it (the count returned
//     covers the packets before). ErrBadFrame for More on a socket
//     without multi-buffer, for a last frame with More, for more than
//     MaxTxFrags frames, and for a checksum request on any frame but the
//     first; any bad frame refuses its whole packet.
//   - MaxTxFrags: 1 without multi-buffer; copy mode 17 (MAX_SKB_FRAGS:
//     the kernel's skb takes the first frame in its linear part and 17
//     more in fragments, 18 in all, verified on Linux 6.18 with veth, but
//     an IFF_TX_SKB_NO_LINEAR device such as virtio-net puts every frame
//     in a fragment, and user space cannot tell); zero-copy: the driver's
//     netdev xdp-zc-max-segs (generic netlink).
//   - A checksum request on the first frame covers the whole packet (the
//     kernel reads TX metadata from the first descriptor only); its field
//     must lie in the first frame. TxChecksumSoftware is not offered on a
//     multi-buffer copy-mode socket (TxChecksumOffload false): the kernel
//     computes that checksum before attaching the other frames, over the
//     first frame only (verified on Linux 6.18).
//   - Keep, InFlight, PutTxFrame and completions stay per frame. Copy mode
//     (verified on Linux 6.18, veth) builds one skb per packet and, when it
//     is freed (on veth, within the kick), completes all its descriptors
//     together: one completion per descriptor, with its address, in ring
//     order. Each frame of a kept packet stays the caller's; each returns
//     with PutTxFrame.
//   - Receive returns whole packets: if the frames slice would cut one, it
//     stops before it; a packet of more frames than the slice can hold is
//     given back to the fill ring unread and counted (Stats.RxDropped).
//     Copy mode puts FrameSize-256 bytes (XDP_PACKET_HEADROOM) of a packet
//     in each frame: with 4 KiB frames a 9000-byte packet arrives as
//     three.
//   - Stats.RxMultiPackets and TxMultiPackets count packets of several
//     frames received and queued.
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
