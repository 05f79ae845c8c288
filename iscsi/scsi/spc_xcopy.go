package scsi

import (
	"bytes"
	"encoding/binary"
	"sync"
)

// EXTENDED COPY (LID1) limits of the copy manager, reported by RECEIVE
// COPY RESULTS (OPERATING PARAMETERS) and VPD page 8Fh.
const (
	xcopyMaxCSCDs      = 8
	xcopyMaxSegments   = 64
	xcopyMaxListLength = xcopyMaxCSCDs*32 + xcopyMaxSegments*28
	xcopyMaxResults    = 32 // remembered copy results per logical unit
	xcopyChunk         = 1 << 20

	cscdIdentification = 0xE4
	segBlockToBlock    = 0x02

	// RECEIVE COPY RESULTS service actions (LID1).
	rcrCopyStatus = 0x00
	rcrOpParams   = 0x03
)

type xcopyKey struct {
	n  Nexus
	id byte
}

type xcopyResult struct {
	status   byte // COPY MANAGER STATUS: 1 good, 2 with error
	segments uint16
	bytes    uint64
}

// xcopyState remembers the results of recent EXTENDED COPY commands.
type xcopyState struct {
	mu    sync.Mutex
	res   map[xcopyKey]xcopyResult
	order []xcopyKey
}

func (x *xcopyState) put(k xcopyKey, r xcopyResult) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.res == nil {
		x.res = map[xcopyKey]xcopyResult{}
	}
	if _, ok := x.res[k]; !ok {
		if len(x.order) >= xcopyMaxResults {
			delete(x.res, x.order[0])
			x.order = x.order[1:]
		}
		x.order = append(x.order, k)
	}
	x.res[k] = r
}

func (x *xcopyState) get(k xcopyKey) (xcopyResult, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	r, ok := x.res[k]
	return r, ok
}

// cscd is a parsed copy source/destination descriptor.
type cscd struct {
	l    *lu // nil when the designator names no logical unit here
	null bool
}

// segment is a parsed block-to-block segment descriptor.
type segment struct {
	src, dst *lu
	n        uint64
	srcLBA   uint64
	dstLBA   uint64
}

func (c *Command) copyAborted(desc bool, asc ASC) {
	s := Sense{Key: KeyCopyAborted, ASC: asc}
	c.setSense(desc, &s)
}

// runExtendedCopy implements EXTENDED COPY(LID1) (SPC-4 §6.4) with
// identification CSCD descriptors (E4h) naming logical units of this
// target by their NAA designator and block-to-block segment descriptors
// (02h). The whole parameter list is validated before any block is copied.
func runExtendedCopy(t *Target, l *lu, c *Command) {
	cdb := c.CDB
	desc := l.desc()
	plen := int(binary.BigEndian.Uint32(cdb[10:14]))
	c.Needed = plen
	if plen == 0 {
		return
	}
	if plen < 16 || len(c.DataOut) < plen {
		c.check(desc, KeyIllegalRequest, ASCParamListLengthError)
		return
	}
	d := c.DataOut[:plen]
	listID := d[0]
	usage := d[1] >> 3 & 0x03
	if usage == 0x01 || usage == 0x03 && listID != 0 {
		c.invalidParam(desc, 1, 4)
		return
	}
	cscdLen := int(binary.BigEndian.Uint16(d[2:4]))
	segLen := int(binary.BigEndian.Uint32(d[8:12]))
	inlineLen := binary.BigEndian.Uint32(d[12:16])
	if uint64(cscdLen)+uint64(segLen) > xcopyMaxListLength {
		c.check(desc, KeyIllegalRequest, ASCParamListLengthError)
		return
	}
	if 16+uint64(cscdLen)+uint64(segLen)+uint64(inlineLen) > uint64(plen) {
		c.check(desc, KeyIllegalRequest, ASCParamListLengthError)
		return
	}
	if inlineLen != 0 {
		c.invalidParam(desc, 12, 7)
		return
	}
	if cscdLen%32 != 0 {
		c.check(desc, KeyIllegalRequest, ASCParamListLengthError)
		return
	}
	if cscdLen/32 > xcopyMaxCSCDs {
		c.check(desc, KeyIllegalRequest, ASCTooManyTargetDescs)
		return
	}
	var cscds [xcopyMaxCSCDs]cscd
	ncscd := cscdLen / 32
	for i := 0; i < ncscd; i++ {
		off := 16 + 32*i
		p := d[off : off+32]
		if p[0] != cscdIdentification {
			s := Sense{Key: KeyIllegalRequest, ASC: ASCUnsupportedTargetDesc, SKS: FieldPointer(false, uint16(off), 7)}
			c.setSense(desc, &s)
			return
		}
		// LU ID TYPE (byte 1 bits 7-6) is ignored: an identification
		// descriptor names its logical unit by the designator (SPC-4).
		if p[1]&0x1F != 0 { // PERIPHERAL DEVICE TYPE: direct access only
			c.invalidParam(desc, uint16(off+1), 4)
			return
		}
		cscds[i].null = p[1]&0x20 != 0
		dlen := int(p[7])
		if dlen > 20 {
			c.invalidParam(desc, uint16(off+7), 7)
			return
		}
		cscds[i].l = t.lookupDesignator(p[4]&0x0F, p[5], p[8:8+dlen])
		if x := cscds[i].l; x != nil && !cscds[i].null {
			bl := uint32(p[29])<<16 | uint32(p[30])<<8 | uint32(p[31])
			if bl != x.bs {
				c.invalidParam(desc, uint16(off+29), 7)
				return
			}
		}
	}
	var segs [xcopyMaxSegments]segment
	nseg := 0
	for off := 16 + cscdLen; off < 16+cscdLen+segLen; {
		end := 16 + cscdLen + segLen
		if off+4 > end {
			c.check(desc, KeyIllegalRequest, ASCParamListLengthError)
			return
		}
		p := d[off:end]
		dl := 4 + int(binary.BigEndian.Uint16(p[2:4]))
		if p[0] != segBlockToBlock {
			s := Sense{Key: KeyIllegalRequest, ASC: ASCUnsupportedSegmentDesc, SKS: FieldPointer(false, uint16(off), 7)}
			c.setSense(desc, &s)
			return
		}
		if dl != 28 {
			c.invalidParam(desc, uint16(off+2), 7)
			return
		}
		if off+dl > end {
			c.check(desc, KeyIllegalRequest, ASCParamListLengthError)
			return
		}
		if nseg == xcopyMaxSegments {
			c.check(desc, KeyIllegalRequest, ASCTooManySegmentDescs)
			return
		}
		si, di := int(binary.BigEndian.Uint16(p[4:6])), int(binary.BigEndian.Uint16(p[6:8]))
		if si >= ncscd || di >= ncscd || cscds[si].null || cscds[di].null || cscds[si].l == nil || cscds[di].l == nil {
			c.copyAborted(desc, ASCCopyTargetUnreachable)
			return
		}
		sg := segment{src: cscds[si].l, dst: cscds[di].l, n: uint64(binary.BigEndian.Uint16(p[10:12])),
			srcLBA: binary.BigEndian.Uint64(p[12:20]), dstLBA: binary.BigEndian.Uint64(p[20:28])}
		if p[1]&0x02 != 0 && sg.src.bs != sg.dst.bs { // DC: count in destination blocks
			sg.n = sg.n << sg.dst.shift >> sg.src.shift
		}
		for _, r := range [2]struct {
			x   *lu
			lba uint64
			n   uint64
		}{{sg.src, sg.srcLBA, sg.n}, {sg.dst, sg.dstLBA, sg.n << sg.src.shift >> sg.dst.shift}} {
			nb := r.x.nblocks.Load()
			if r.lba > nb || r.n > nb-r.lba {
				c.copyAborted(desc, ASCNoAdditional)
				return
			}
		}
		if sg.src == sg.dst && sg.n > 0 && sg.srcLBA < sg.dstLBA+sg.n && sg.dstLBA < sg.srcLBA+sg.n {
			c.invalidParam(desc, uint16(off+20), 7) // source and destination overlap
			return
		}
		if sg.n<<sg.src.shift&(uint64(sg.dst.bs)-1) != 0 {
			c.invalidParam(desc, uint16(off+10), 7)
			return
		}
		// The other logical units' reservations apply as to a READ of the
		// source and a WRITE of the destination from this I_T nexus.
		for _, x := range [2]struct {
			l  *lu
			op byte
		}{{sg.src, opRead10}, {sg.dst, opWrite10}} {
			if x.l != l && x.l.pr.reserved.Load() {
				probe := Command{Nexus: c.Nexus, CDB: []byte{x.op, 0, 0, 0, 0, 0, 0, 0, 0, 0}}
				if x.l.pr.conflicts(&probe) {
					conflict(c)
					return
				}
			}
		}
		if sg.dst.readOnly || sg.dst.swp.Load() {
			c.check(desc, KeyDataProtect, ASCWriteProtected)
			return
		}
		segs[nseg] = sg
		nseg++
		off += dl
	}
	res := xcopyResult{status: 1}
	for i := 0; i < nseg; i++ {
		n, ok := copySegment(&segs[i])
		res.bytes += n
		if !ok {
			res.status = 2
			if usage != 0x03 {
				l.xcopy.put(xcopyKey{c.Nexus, listID}, res)
			}
			c.copyAborted(desc, ASCNoAdditional)
			return
		}
		res.segments++
	}
	if usage != 0x03 {
		l.xcopy.put(xcopyKey{c.Nexus, listID}, res)
	}
}

// copySegment copies one block-to-block segment in chunks and reports the
// bytes written.
func copySegment(sg *segment) (uint64, bool) {
	total := sg.n << sg.src.shift
	buf := make([]byte, min(total, xcopyChunk))
	var done uint64
	for done < total {
		k := min(total-done, uint64(len(buf)))
		if _, err := sg.src.be.ReadAt(buf[:k], int64(sg.srcLBA<<sg.src.shift+done)); err != nil {
			return done, false
		}
		dlba := sg.dstLBA + done>>sg.dst.shift
		m := sg.dst.rl.mask(dlba, k>>sg.dst.shift)
		sg.dst.rl.lock(m, false)
		_, err := sg.dst.be.WriteAt(buf[:k], int64(sg.dstLBA<<sg.dst.shift+done))
		sg.dst.rl.unlock(m, false)
		if err != nil {
			return done, false
		}
		done += k
	}
	if !sg.dst.wce.Load() {
		if err := sg.dst.be.Flush(); err != nil {
			return done, false
		}
	}
	return done, true
}

// lookupDesignator finds the logical unit whose NAA designator (code set
// binary, LU association) equals id.
func (t *Target) lookupDesignator(codeSet, assocType byte, id []byte) *lu {
	if codeSet != 1 || assocType&0x30 != 0 || assocType&0x0F != 3 {
		return nil
	}
	for _, x := range *t.lus.Load() {
		if bytes.Equal(x.naa, id) {
			return x
		}
	}
	return nil
}

// runReceiveCopyResults implements RECEIVE COPY RESULTS (LID1) COPY STATUS
// and OPERATING PARAMETERS (SPC-4 §6.26).
func runReceiveCopyResults(_ *Target, l *lu, c *Command) {
	cdb := c.CDB
	desc := l.desc()
	alloc := int(binary.BigEndian.Uint32(cdb[10:14]))
	var b []byte
	switch cdb[1] & 0x1F {
	case rcrCopyStatus:
		r, ok := l.xcopy.get(xcopyKey{c.Nexus, cdb[2]})
		if !ok {
			c.invalidCDB(desc, 2, 7)
			return
		}
		b = make([]byte, 12)
		binary.BigEndian.PutUint32(b[0:4], 8)
		b[4] = r.status
		binary.BigEndian.PutUint16(b[5:7], r.segments)
		count := r.bytes
		if count > 0xFFFFFFFF {
			b[7] = 0x01 // TRANSFER COUNT UNITS: kibibytes
			count >>= 10
		}
		binary.BigEndian.PutUint32(b[8:12], uint32(min(count, 0xFFFFFFFF)))
	case rcrOpParams:
		b = make([]byte, 46)
		binary.BigEndian.PutUint32(b[0:4], uint32(len(b)-4))
		b[4] = 0x01 // SNLID
		binary.BigEndian.PutUint16(b[8:10], xcopyMaxCSCDs)
		binary.BigEndian.PutUint16(b[10:12], xcopyMaxSegments)
		binary.BigEndian.PutUint32(b[12:16], xcopyMaxListLength)
		binary.BigEndian.PutUint32(b[16:20], uint32(0xFFFF)<<l.shift) // MAXIMUM SEGMENT LENGTH
		binary.BigEndian.PutUint16(b[34:36], 1)                       // TOTAL CONCURRENT COPIES
		b[36] = 1                                                     // MAXIMUM CONCURRENT COPIES
		b[37] = byte(l.shift)                                         // DATA SEGMENT GRANULARITY (log2)
		b[43] = 2                                                     // IMPLEMENTED DESCRIPTOR LIST LENGTH
		b[44], b[45] = segBlockToBlock, cscdIdentification
	default:
		c.invalidCDB(desc, 1, 4)
		return
	}
	c.putIn(b, alloc)
}

// vpdThirdPartyCopyPage is the body of VPD page 8Fh (SPC-4 §7.8.17).
func vpdThirdPartyCopyPage(l *lu) []byte {
	var b []byte
	add := func(typ uint16, body []byte) {
		for len(body)%4 != 0 {
			body = append(body, 0)
		}
		b = binary.BigEndian.AppendUint16(b, typ)
		b = binary.BigEndian.AppendUint16(b, uint16(len(body)))
		b = append(b, body...)
	}
	// Supported commands: EXTENDED COPY(LID1), RECEIVE COPY RESULTS.
	cmds := []byte{opExtendedCopy, 1, 0x00, opReceiveCopyResults, 2, rcrCopyStatus, rcrOpParams}
	add(0x0001, append([]byte{byte(len(cmds))}, cmds...))
	// Parameter data.
	pd := make([]byte, 0x1C)
	binary.BigEndian.PutUint16(pd[4:6], xcopyMaxCSCDs)
	binary.BigEndian.PutUint16(pd[6:8], xcopyMaxSegments)
	binary.BigEndian.PutUint32(pd[8:12], xcopyMaxListLength)
	add(0x0004, pd)
	// Supported descriptors.
	add(0x0008, []byte{2, segBlockToBlock, cscdIdentification})
	// General copy operations.
	g := make([]byte, 0x1C)
	binary.BigEndian.PutUint32(g[0:4], 1)                        // TOTAL CONCURRENT COPIES
	binary.BigEndian.PutUint32(g[4:8], 1)                        // MAXIMUM IDENTIFIED CONCURRENT COPIES
	binary.BigEndian.PutUint32(g[8:12], uint32(0xFFFF)<<l.shift) // MAXIMUM SEGMENT LENGTH
	g[12] = byte(l.shift)                                        // DATA SEGMENT GRANULARITY
	add(0x8001, g)
	return b
}
