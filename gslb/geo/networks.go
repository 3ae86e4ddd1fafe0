package geo

import (
	"net/netip"
	"strings"
)

// Network is one operator-defined CIDR -> location mapping (from the etcd
// keys geo/networks/<name>).
type Network struct {
	Name     string
	Prefix   netip.Prefix
	Location Location
}

// Networks is an immutable longest-prefix-match table of operator networks.
// Build it once with NewNetworks and read it from any number of goroutines.
//
// It is a plain binary trie per address family, stored in one slice so a
// lookup is at most 32 (IPv4) or 128 (IPv6) steps through adjacent memory
// and never allocates. Operator tables are small (tens to thousands of
// entries), so a compressed trie would save little.
type Networks struct {
	v4, v6 trie
	locs   []Location // indexed by node.entry-1
}

type trie struct {
	nodes []node // nodes[0] is the root; empty when the family has no entries
}

type node struct {
	child [2]int32 // index into trie.nodes, 0 = none (the root is nobody's child)
	entry int32    // 1 + index into Networks.locs, 0 = no network ends here
}

// NewNetworks builds a table from nets. It does not keep nets.
//
// Each entry is normalised once here rather than on every lookup:
//   - Prefix is masked; an IPv4-mapped IPv6 prefix (::ffff:10.0.0.0/104)
//     becomes the IPv4 prefix it means, since lookups unmap addresses first.
//     Invalid prefixes are dropped.
//   - Country and Continent are upper-cased; codes the tables do not know
//     are dropped (the store is expected to reject them with ValidCountry
//     and ValidContinent first). Continent is filled in from Country when
//     empty.
//   - A location without coordinates (or with coordinates off the globe)
//     gets its country's point, or failing that its continent's, as the
//     database path does, so distance-based steering treats an operator
//     network like any other client.
//   - Source becomes "network:<name>".
//
// If two entries have the same prefix, the one whose Name sorts first wins,
// so the result does not depend on the order of nets (which for a map-backed
// store need not be stable).
func NewNetworks(nets []Network) *Networks {
	t := &Networks{}
	for _, nw := range nets {
		p, ok := normalizePrefix(nw.Prefix)
		if !ok {
			continue
		}
		tr := &t.v6
		if p.Addr().Is4() {
			tr = &t.v4
		}
		n := tr.insert(p)
		if e := tr.nodes[n].entry; e != 0 {
			if t.locs[e-1].Source <= sourceNetworkPrefix+nw.Name {
				continue
			}
			t.locs[e-1] = networkLocation(nw)
			continue
		}
		t.locs = append(t.locs, networkLocation(nw))
		tr.nodes[n].entry = int32(len(t.locs))
	}
	return t
}

// normalizePrefix masks p and unmaps IPv4-mapped IPv6 prefixes.
func normalizePrefix(p netip.Prefix) (netip.Prefix, bool) {
	if !p.IsValid() {
		return netip.Prefix{}, false
	}
	a := p.Addr()
	if a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked(), true
}

func networkLocation(nw Network) Location {
	l := nw.Location
	l.Country = canonicalCountry(strings.ToUpper(l.Country))
	l.Continent = canonicalContinent(strings.ToUpper(l.Continent))
	if l.Continent == "" {
		l.Continent = ContinentOf(l.Country)
	}
	if l.HasCoords && !validCoords(l.Lat, l.Lon) {
		l.Lat, l.Lon, l.HasCoords = 0, 0, false
	}
	if !l.HasCoords {
		if lat, lon, ok := CountryCentroid(l.Country); ok {
			l.Lat, l.Lon, l.HasCoords = lat, lon, true
		} else if lat, lon, ok := continentCentroid(l.Continent); ok {
			l.Lat, l.Lon, l.HasCoords = lat, lon, true
		}
	}
	l.Source = sourceNetworkPrefix + nw.Name
	l.Bits = 0 // set per lookup
	return l
}

// insert walks (creating as needed) the path for p and returns its node.
func (t *trie) insert(p netip.Prefix) int32 {
	if len(t.nodes) == 0 {
		t.nodes = append(t.nodes, node{})
	}
	hi, lo := addrBits(p.Addr())
	n := int32(0)
	for d := range p.Bits() {
		b := bitAt(hi, lo, d)
		c := t.nodes[n].child[b]
		if c == 0 {
			t.nodes = append(t.nodes, node{})
			c = int32(len(t.nodes) - 1)
			t.nodes[n].child[b] = c
		}
		n = c
	}
	return n
}

// lookup returns the longest matching entry (0 if none) and the scope: the
// depth at which the walk for addr left the trie. Every address sharing that
// many leading bits with addr has the same longest match, because no entry
// lies deeper on that path; a shorter scope would cover an entry that does
// not contain addr.
func (t *trie) lookup(addr netip.Addr) (entry int32, scope int) {
	if len(t.nodes) == 0 {
		return 0, 0
	}
	hi, lo := addrBits(addr)
	n := &t.nodes[0]
	entry = n.entry
	for d := 0; ; d++ {
		if n.child[0] == 0 && n.child[1] == 0 {
			return entry, d
		}
		c := n.child[bitAt(hi, lo, d)]
		if c == 0 {
			return entry, d + 1
		}
		n = &t.nodes[c]
		if n.entry != 0 {
			entry = n.entry
		}
	}
}

// addrBits returns addr as a 128-bit big-endian number; an IPv4 address
// occupies the top 32 bits of hi so bit d is the d-th bit of the address in
// either family.
func addrBits(a netip.Addr) (hi, lo uint64) {
	if a.Is4() {
		b := a.As4()
		return uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32, 0
	}
	b := a.As16()
	for i := range 8 {
		hi = hi<<8 | uint64(b[i])
		lo = lo<<8 | uint64(b[8+i])
	}
	return hi, lo
}

func bitAt(hi, lo uint64, d int) int {
	if d < 64 {
		return int(hi>>(63-d)) & 1
	}
	return int(lo>>(127-d)) & 1
}

// Locate returns the location of the longest operator network containing
// addr. IPv4-mapped IPv6 addresses are looked up as IPv4. A nil table
// matches nothing.
//
// Bits is the ECS scope (see Location.Bits): the matching prefix length,
// longer when a more specific network nests inside the match near addr. On a
// miss it is the length of the block around addr that holds no network, 0 if
// the family has none. A network whose location says nothing (no
// coordinates, country or continent) counts as a miss, so a Chain goes on to
// the next locator.
func (n *Networks) Locate(addr netip.Addr) (Location, bool) {
	if n == nil || !addr.IsValid() {
		return Location{}, false
	}
	addr = clientAddr(addr)
	t := &n.v6
	if addr.Is4() {
		t = &n.v4
	}
	e, scope := t.lookup(addr)
	if e == 0 || !n.locs[e-1].Known() {
		return Location{Bits: scope}, false
	}
	l := n.locs[e-1]
	l.Bits = scope
	return l, true
}

// Len returns the number of distinct networks in the table, after invalid
// and duplicate prefixes were dropped.
func (n *Networks) Len() int {
	if n == nil {
		return 0
	}
	return len(n.locs)
}
