package tcp

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

// Parse errors; each is counted in the engine's statistics.
var (
	ErrShort       = errors.New("tcp: frame too short")
	ErrNotIP       = errors.New("tcp: not IPv4/IPv6")
	ErrNotTCP      = errors.New("tcp: not TCP")
	ErrIPHeader    = errors.New("tcp: bad IP header")
	ErrIPChecksum  = errors.New("tcp: bad IPv4 header checksum")
	ErrFragment    = errors.New("tcp: IP fragment")
	ErrDataOffset  = errors.New("tcp: bad data offset")
	ErrTCPChecksum = errors.New("tcp: bad TCP checksum")
	ErrBadFlags    = errors.New("tcp: invalid flag combination")
	ErrBadAddress  = errors.New("tcp: bad address")
)

// Segment is a parsed TCP/IP frame. Payload is a view into the frame; a multi-buffer packet's
// payload continues in More (views of the following frames, MoreLen bytes in all).
type Segment struct {
	SrcMAC, DstMAC   MAC
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	Seq, Ack         Seq
	Flags            uint8
	Window           uint16
	Opts             Options
	Payload          []byte
	More             [][]byte
	MoreLen          int
}

// DataLen returns the payload length, continuation frames included.
func (s *Segment) DataLen() int { return len(s.Payload) + s.MoreLen }

// Len returns the segment length in sequence space (payload plus SYN and FIN).
func (s *Segment) Len() int {
	n := s.DataLen()
	if s.Flags&FlagSYN != 0 {
		n++
	}
	if s.Flags&FlagFIN != 0 {
		n++
	}
	return n
}

// Has reports whether all flags in f are set.
func (s *Segment) Has(f uint8) bool { return s.Flags&f == f }

// ParseFrame parses an Ethernet frame carrying TCP over IPv4 or IPv6 into s. When verifyCsum is
// false the TCP checksum is not verified (the link vouches for it). It allocates nothing.
func ParseFrame(frame []byte, s *Segment, verifyCsum bool) error {
	mode := csumTrust
	if verifyCsum {
		mode = csumVerify
	}
	return parseFrame(frame, nil, s, mode)
}

// Checksum modes.
const (
	csumVerify  = iota // full verification
	csumTrust          // the link verified it
	csumPartial        // verify, but accept a CHECKSUM_PARTIAL frame from a local veth peer
)

// errPartialChecksum reports a frame whose checksum field holds only the folded pseudo-header
// sum: a Linux CHECKSUM_PARTIAL packet handed over by a veth without being completed.
var errPartialChecksum = errors.New("tcp: partial checksum")

// parseFrame parses frame, whose packet continues in the frames of more (multi-buffer receive;
// the headers are in frame), into s.
func parseFrame(frame []byte, more [][]byte, s *Segment, mode int) error {
	verifyCsum := mode != csumTrust
	extra := 0
	for _, m := range more {
		extra += len(m)
	}
	if len(frame) < EthHeaderLen {
		return ErrShort
	}
	eth := Eth(frame)
	s.DstMAC = eth.Dst()
	s.SrcMAC = eth.Src()
	b := frame[EthHeaderLen:]
	var tcp []byte
	var psum uint64
	switch eth.Type() {
	case EtherTypeIPv4:
		if len(b) < IPv4HeaderLen {
			return ErrShort
		}
		ip := IPv4(b)
		hl := ip.HeaderLen()
		if ip.Version() != 4 || hl < IPv4HeaderLen || len(b) < hl {
			return ErrIPHeader
		}
		tl := ip.TotalLen()
		if tl < hl || tl > len(b)+extra || extra > 0 && tl != len(b)+extra {
			return ErrIPHeader
		}
		if Checksum(b[:hl]) != 0 {
			return ErrIPChecksum
		}
		if ip.IsFragment() {
			return ErrFragment
		}
		if ip.Protocol() != ProtoTCP {
			return ErrNotTCP
		}
		s.Src = netip.AddrFrom4([4]byte(ip.Src()))
		s.Dst = netip.AddrFrom4([4]byte(ip.Dst()))
		tcp = b[hl : tl-extra]
		if verifyCsum {
			psum = pseudoSum(ip.Src(), ip.Dst(), tl-hl)
		}
	case EtherTypeIPv6:
		if len(b) < IPv6HeaderLen {
			return ErrShort
		}
		ip := IPv6(b)
		if ip.Version() != 6 {
			return ErrIPHeader
		}
		pl := ip.PayloadLen()
		if IPv6HeaderLen+pl > len(b)+extra || extra > 0 && IPv6HeaderLen+pl != len(b)+extra {
			return ErrIPHeader
		}
		if ip.NextHeader() != ProtoTCP {
			return ErrNotTCP
		}
		s.Src = netip.AddrFrom16([16]byte(ip.Src()))
		s.Dst = netip.AddrFrom16([16]byte(ip.Dst()))
		tcp = b[IPv6HeaderLen : IPv6HeaderLen+pl-extra]
		if verifyCsum {
			psum = pseudoSum(ip.Src(), ip.Dst(), pl)
		}
	default:
		return ErrNotIP
	}
	if len(tcp) < TCPHeaderLen {
		return ErrShort
	}
	h := TCPHeader(tcp)
	off := h.DataOffset()
	if off < TCPHeaderLen || off > len(tcp) {
		return ErrDataOffset
	}
	partial := false
	if verifyCsum {
		// A CHECKSUM_PARTIAL frame carries the bare pseudo-header sum, which a full
		// verification would reject anyway: recognise it first and skip summing the payload
		// (the same frames are accepted as when verifying first).
		if mode == csumPartial && h.Checksum() == checksumFold(psum) {
			partial = true
		} else if checksumFold(sumPieces(psum, tcp, more)) != 0xffff {
			return ErrTCPChecksum
		}
	}
	if !s.Src.IsGlobalUnicast() && !s.Src.IsPrivate() && !s.Src.IsLinkLocalUnicast() && !s.Src.IsLoopback() {
		return ErrBadAddress
	}
	s.SrcPort = h.SrcPort()
	s.DstPort = h.DstPort()
	s.Seq = h.Seq()
	s.Ack = h.Ack()
	s.Flags = h.Flags()
	s.Window = h.Window()
	s.Opts = Options{}
	if err := parseOptions(tcp[TCPHeaderLen:off], &s.Opts); err != nil {
		return err
	}
	s.Payload = tcp[off:]
	s.More, s.MoreLen = more, extra
	if s.Flags&FlagSYN != 0 && s.Flags&(FlagFIN|FlagRST) != 0 {
		return ErrBadFlags
	}
	if s.SrcPort == 0 || s.DstPort == 0 {
		return ErrBadFlags
	}
	if partial {
		return errPartialChecksum
	}
	return nil
}

// sumPieces adds the bytes of first and then of each of more, as one contiguous run, to sum.
func sumPieces(sum uint64, first []byte, more [][]byte) uint64 {
	r := runSum{sum: checksumAdd(sum, first), n: len(first)}
	for _, m := range more {
		r.add(m)
	}
	return r.sum
}

// tcpChecksumOffset is where the checksum sits inside the TCP header.
const tcpChecksumOffset = 16

// finishTCPChecksum computes and stores the TCP checksum of seg (header+payload) given the IP
// addresses.
func finishTCPChecksum(seg []byte, src, dst []byte) {
	s := pseudoSum(src, dst, len(seg))
	s = checksumAdd(s, seg)
	binary.BigEndian.PutUint16(seg[tcpChecksumOffset:], ^checksumFold(s))
}
