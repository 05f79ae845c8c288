package xsk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// From include/uapi/linux/netdev.h (generic netlink family "netdev").
const (
	netdevFamily        = "netdev"
	netdevCmdDevGet     = 1
	netdevADevIfindex   = 1
	netdevADevXDPFeat   = 3
	netdevADevZCMaxSegs = 4 // u32, only for devices with NETDEV_XDP_ACT_XSK_ZEROCOPY
	netdevADevXSKFeat   = 6
	netdevXSKTxChecksum = 2 // NETDEV_XSK_FLAGS_TX_CHECKSUM
)

var errNetlink = errors.New("xsk: netdev netlink")

// devFeatures are a device's XDP and AF_XDP features as the netdev netlink
// family reports them: xdp-features, xsk-features (what the driver's
// xsk_tx_metadata_ops implement for zero-copy sockets) and xdp-zc-max-segs
// (the most buffers per packet in zero-copy mode; 0 when not reported,
// for a device without zero-copy).
type devFeatures struct {
	xdp, xsk  uint64
	zcMaxSegs uint32
}

// netdevGet asks the netdev netlink family about ifindex (in the calling
// thread's network namespace).
func netdevGet(ifindex int) (devFeatures, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_GENERIC)
	if err != nil {
		return devFeatures{}, fmt.Errorf("%w: socket: %w", errNetlink, err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return devFeatures{}, fmt.Errorf("%w: bind: %w", errNetlink, err)
	}
	tv := unix.Timeval{Sec: 2}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return devFeatures{}, fmt.Errorf("%w: timeout: %w", errNetlink, err)
	}

	name := append([]byte(netdevFamily), 0)
	attrs, err := genlRequest(fd, unix.GENL_ID_CTRL, unix.CTRL_CMD_GETFAMILY, 1, nlAttr(unix.CTRL_ATTR_FAMILY_NAME, name))
	if err != nil {
		return devFeatures{}, fmt.Errorf("%w: resolve family %q: %w", errNetlink, netdevFamily, err)
	}
	id, ok := attrs[unix.CTRL_ATTR_FAMILY_ID]
	if !ok || len(id) < 2 {
		return devFeatures{}, fmt.Errorf("%w: family %q has no id", errNetlink, netdevFamily)
	}
	var idx [4]byte
	binary.NativeEndian.PutUint32(idx[:], uint32(ifindex))
	attrs, err = genlRequest(fd, binary.NativeEndian.Uint16(id), netdevCmdDevGet, 1, nlAttr(netdevADevIfindex, idx[:]))
	if err != nil {
		return devFeatures{}, fmt.Errorf("%w: dev-get ifindex %d: %w", errNetlink, ifindex, err)
	}
	if v, ok := attrs[netdevADevIfindex]; !ok || len(v) < 4 || binary.NativeEndian.Uint32(v) != uint32(ifindex) {
		return devFeatures{}, fmt.Errorf("%w: dev-get ifindex %d: answer for another device", errNetlink, ifindex)
	}
	var f devFeatures
	if v, ok := attrs[netdevADevXDPFeat]; ok && len(v) >= 8 {
		f.xdp = binary.NativeEndian.Uint64(v)
	}
	if v, ok := attrs[netdevADevXSKFeat]; ok && len(v) >= 8 {
		f.xsk = binary.NativeEndian.Uint64(v)
	}
	if v, ok := attrs[netdevADevZCMaxSegs]; ok && len(v) >= 4 {
		f.zcMaxSegs = binary.NativeEndian.Uint32(v)
	}
	return f, nil
}

func nlAttr(typ uint16, val []byte) []byte {
	b := make([]byte, unix.NLA_HDRLEN, unix.NLA_HDRLEN+len(val)+3)
	binary.NativeEndian.PutUint16(b[0:], uint16(unix.NLA_HDRLEN+len(val)))
	binary.NativeEndian.PutUint16(b[2:], typ)
	b = append(b, val...)
	for len(b)%unix.NLA_ALIGNTO != 0 {
		b = append(b, 0)
	}
	return b
}

// genlRequest sends one generic netlink request and returns the top-level
// attributes of its (single) answer.
func genlRequest(fd int, family uint16, cmd, version uint8, attrs ...[]byte) (map[uint16][]byte, error) {
	msg := make([]byte, unix.NLMSG_HDRLEN+unix.GENL_HDRLEN)
	for _, a := range attrs {
		msg = append(msg, a...)
	}
	binary.NativeEndian.PutUint32(msg[0:], uint32(len(msg)))
	binary.NativeEndian.PutUint16(msg[4:], family)
	binary.NativeEndian.PutUint16(msg[6:], unix.NLM_F_REQUEST|unix.NLM_F_ACK)
	binary.NativeEndian.PutUint32(msg[8:], 1) // sequence
	msg[unix.NLMSG_HDRLEN] = cmd
	msg[unix.NLMSG_HDRLEN+1] = version
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("send: %w", err)
	}
	var out map[uint16][]byte
	buf := make([]byte, 1<<16)
	for range 16 {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return nil, fmt.Errorf("receive: %w", err)
		}
		for b := buf[:n]; len(b) >= unix.NLMSG_HDRLEN; {
			l := int(binary.NativeEndian.Uint32(b[0:]))
			typ := binary.NativeEndian.Uint16(b[4:])
			if l < unix.NLMSG_HDRLEN || l > len(b) {
				return nil, errors.New("malformed message")
			}
			data := b[unix.NLMSG_HDRLEN:l]
			l = (l + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1)
			b = b[min(l, len(b)):]
			switch typ {
			case unix.NLMSG_ERROR:
				if len(data) < 4 {
					return nil, errors.New("short error message")
				}
				if e := int32(binary.NativeEndian.Uint32(data)); e != 0 {
					return nil, unix.Errno(-e)
				}
				// The ACK: the answer, if any, came before it.
				if out == nil {
					return nil, errors.New("no answer")
				}
				return out, nil
			case unix.NLMSG_DONE:
				return out, nil
			case family:
				if len(data) < unix.GENL_HDRLEN {
					return nil, errors.New("short answer")
				}
				// Copied: the next receive (the ACK) reuses buf.
				out = parseAttrs(bytes.Clone(data[unix.GENL_HDRLEN:]))
			}
		}
	}
	return nil, errors.New("no acknowledgement")
}

func parseAttrs(b []byte) map[uint16][]byte {
	out := make(map[uint16][]byte)
	for len(b) >= unix.NLA_HDRLEN {
		l := int(binary.NativeEndian.Uint16(b[0:]))
		typ := binary.NativeEndian.Uint16(b[2:]) &^ (unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER)
		if l < unix.NLA_HDRLEN || l > len(b) {
			break
		}
		out[typ] = b[unix.NLA_HDRLEN:l]
		l = (l + unix.NLA_ALIGNTO - 1) &^ (unix.NLA_ALIGNTO - 1)
		if l >= len(b) {
			break
		}
		b = b[l:]
	}
	return out
}
