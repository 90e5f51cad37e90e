// Package graph is the private identity graph of an export: a union-find over identity keys
// (namespace and id, as bytes) that answers the connected components, each ranked by its smallest
// identity. Identities are interned into an arena of blocks (so that growing it never copies it),
// found through an open-addressing table; everything is pointer-free, so the garbage collector
// never walks it, however many millions of identities it holds.
package graph

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
	"slices"
)

// Graph is a union-find over identities: the caller links the identities that belong together
// (under the private identity graph, all of a record's), and the connected components are the
// profiles.
type Graph struct {
	seed   maphash.Seed
	slots  []uint32 // node+1; 0 is empty. Its length is a power of two.
	pos    []uint32 // node → where its bytes are in the arena
	parent []uint32
	blocks [][]byte
}

const (
	arenaBlockBits = 24 // 16 MiB blocks
	arenaBlockSize = 1 << arenaBlockBits
)

// New returns an empty graph.
func New() *Graph {
	return &Graph{seed: maphash.MakeSeed(), slots: make([]uint32, 1<<16)}
}

// key is an identity's bytes in the arena: namespace, a zero byte, id; length-prefixed there.
func (g *Graph) key(n uint32) []byte {
	p := g.pos[n]
	block := g.blocks[p>>arenaBlockBits]
	off := int(p & (arenaBlockSize - 1))
	l, k := binary.Uvarint(block[off:])
	return block[off+k : off+k+int(l)]
}

func (g *Graph) hash(ns, id []byte) uint64 {
	var h maphash.Hash
	h.SetSeed(g.seed)
	_, _ = h.Write(ns)
	_ = h.WriteByte(0)
	_, _ = h.Write(id)
	return h.Sum64()
}

func keyEquals(k, ns, id []byte) bool {
	return len(k) == len(ns)+1+len(id) && bytes.Equal(k[:len(ns)], ns) && k[len(ns)] == 0 && bytes.Equal(k[len(ns)+1:], id)
}

// Node returns the node of the identity (ns, id), adding it when it is new. The bytes are copied.
func (g *Graph) Node(ns, id []byte) uint32 {
	mask := uint64(len(g.slots) - 1)
	for i := g.hash(ns, id) & mask; ; i = (i + 1) & mask {
		s := g.slots[i]
		if s == 0 {
			n := g.add(ns, id)
			g.slots[i] = n + 1
			if uint64(len(g.pos))*2 > uint64(len(g.slots)) {
				g.grow()
			}
			return n
		}
		if keyEquals(g.key(s-1), ns, id) {
			return s - 1
		}
	}
}

func (g *Graph) add(ns, id []byte) uint32 {
	size := len(ns) + 1 + len(id)
	need := binary.MaxVarintLen64 + size
	if len(g.blocks) == 0 || len(g.blocks[len(g.blocks)-1])+need > arenaBlockSize {
		g.blocks = append(g.blocks, make([]byte, 0, max(arenaBlockSize, need)))
	}
	b := &g.blocks[len(g.blocks)-1]
	pos := uint32(len(g.blocks)-1)<<arenaBlockBits | uint32(len(*b))
	*b = binary.AppendUvarint(*b, uint64(size))
	*b = append(append(append(*b, ns...), 0), id...)
	n := uint32(len(g.pos))
	g.pos = append(g.pos, pos)
	g.parent = append(g.parent, n)
	return n
}

// grow doubles the table, placing every node again.
func (g *Graph) grow() {
	slots := make([]uint32, len(g.slots)*2)
	mask := uint64(len(slots) - 1)
	for n := range g.pos {
		k := g.key(uint32(n))
		sep := bytes.IndexByte(k, 0)
		for i := g.hash(k[:sep], k[sep+1:]) & mask; ; i = (i + 1) & mask {
			if slots[i] == 0 {
				slots[i] = uint32(n) + 1
				break
			}
		}
	}
	g.slots = slots
}

// find is the root of a node's component.
func (g *Graph) find(n uint32) uint32 {
	for g.parent[n] != n {
		g.parent[n] = g.parent[g.parent[n]] // path halving
		n = g.parent[n]
	}
	return n
}

// Union links the identities of two nodes.
func (g *Graph) Union(a, b uint32) {
	ra, rb := g.find(a), g.find(b)
	if ra == rb {
		return
	}
	// The smaller index becomes the root, which keeps the result independent of union order.
	if rb < ra {
		ra, rb = rb, ra
	}
	g.parent[rb] = ra
}

// compareKeys orders two nodes' identities: namespace, then id, in byte order. The zero byte
// between them sorts a namespace before any longer one it prefixes.
func (g *Graph) compareKeys(a, b uint32) int { return bytes.Compare(g.key(a), g.key(b)) }

// Len is the number of identities in the graph.
func (g *Graph) Len() int { return len(g.pos) }

// Components groups the graph's nodes into its connected components, ranked by each component's
// smallest identity (namespace, then id, in byte order). It returns each node's component rank,
// indexed by node, and the components. The graph takes no identities after it, and holds
// nothing the caller needs once it has them: dropping it frees its memory.
func (g *Graph) Components() (ranks []uint32, c *Components) {
	g.slots = nil // interning is over

	// Each component's size and smallest identity; components are ranked by that identity.
	n := uint32(len(g.pos))
	smallest := make([]uint32, n)
	for i := range n {
		smallest[i] = i
	}
	count := make([]uint32, n)
	for i := range n {
		r := g.find(i)
		count[r]++
		if g.compareKeys(i, smallest[r]) < 0 {
			smallest[r] = i
		}
	}
	var roots []uint32
	for i := range n {
		if g.parent[i] == i {
			roots = append(roots, i)
		}
	}
	slices.SortFunc(roots, func(a, b uint32) int { return g.compareKeys(smallest[a], smallest[b]) })
	c = &Components{size: make([]uint32, len(roots))}
	c.keys.ends = make([]int, 0, len(roots))
	rank := count // reused: a root's rank
	for i, r := range roots {
		c.size[i] = count[r]
		rank[r] = uint32(i)
		c.keys.add(g.key(smallest[r]))
	}
	ranks = smallest // reused: a node's rank
	for i := range n {
		ranks[i] = rank[g.find(i)]
	}
	return ranks, c
}

// Components are the connected components of a graph, by rank.
type Components struct {
	keys keyList  // each component's smallest identity
	size []uint32 // each component's number of identities
}

// Len is the number of components.
func (c *Components) Len() int { return c.keys.len() }

// Size is the number of identities of the component of the given rank.
func (c *Components) Size(rank int) int { return int(c.size[rank]) }

// Key is the smallest identity of the component of the given rank. Namespaces are interned: the
// many components of one namespace share its string.
func (c *Components) Key(rank int) (ns, id string) { return c.keys.identity(rank) }

// keyList holds identities as their arena keys (namespace, a zero byte, id), end to end: a
// string pair for each would cost twice the memory.
type keyList struct {
	bytes []byte
	ends  []int
	ns    map[string]string // namespaces, interned
}

func (k *keyList) add(key []byte) {
	k.bytes = append(k.bytes, key...)
	k.ends = append(k.ends, len(k.bytes))
}

func (k *keyList) len() int { return len(k.ends) }

func (k *keyList) identity(i int) (ns, id string) {
	start := 0
	if i > 0 {
		start = k.ends[i-1]
	}
	key := k.bytes[start:k.ends[i]]
	sep := bytes.IndexByte(key, 0)
	if k.ns == nil {
		k.ns = map[string]string{}
	}
	ns, ok := k.ns[string(key[:sep])]
	if !ok {
		ns = string(key[:sep])
		k.ns[ns] = ns
	}
	return ns, string(key[sep+1:])
}
