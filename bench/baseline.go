package main

import (
	"fmt"
	mrand "math/rand/v2"
	"sort"
	"strings"
	"time"
)

// The before-and-after comparison of -baseline: this build against an
// older one, for the two paths every call takes (the cold CLI and the warm
// gateway call). The main table's "(baseline)" rows answer it too, but
// from 40 calls each, spread over a round of ten setups whose background
// work (teardowns, pre-warms, runc's cgroups) lands on whichever setup
// runs next: their p50 ratio moves by +-10% between runs of the same two
// builds. Here the two builds are called in pairs, in a random order per
// pair, hundreds of times, and the ratio of the medians comes with a
// bootstrap interval over the pairs: what a run can and cannot tell apart.

// pairGap is the pause before each call of a pair: an agent's calls are
// seconds apart (a model's turn), and a gateway builds the next call's
// jail once a call is over, so a call that followed the last one at once
// would measure a cold jail, not the warm path.
const pairGap = 15 * time.Millisecond

// paired is one path measured in pairs.
type paired struct {
	name            string
	cur, base       []time.Duration
	ratio           float64 // p50(cur) / p50(base)
	low, high       float64 // 95% bootstrap interval of ratio
	curPct, basePct [3]time.Duration
}

// comparePaired calls cur and base n times each, in pairs, and returns the
// figures.
func comparePaired(name string, n int, cur, base func() time.Duration) *paired {
	p := &paired{name: name}
	order := mrand.New(mrand.NewPCG(3, 4))
	for i := 0; i < n; i++ {
		first, second := cur, base
		curFirst := order.IntN(2) == 0
		if !curFirst {
			first, second = base, cur
		}
		time.Sleep(pairGap)
		a := first()
		time.Sleep(pairGap)
		b := second()
		if !curFirst {
			a, b = b, a
		}
		p.cur, p.base = append(p.cur, a), append(p.base, b)
	}
	p.ratio = float64(pct(p.cur, 50)) / float64(pct(p.base, 50))
	p.low, p.high = bootstrapRatio(p.cur, p.base, 2000)
	for i, q := range []int{25, 50, 75} {
		p.curPct[i], p.basePct[i] = pct(p.cur, q), pct(p.base, q)
	}
	return p
}

// bootstrapRatio is the 95% interval of p50(cur)/p50(base) over resampled
// pairs (a pair is resampled whole: both of its calls saw the same moment
// of the host).
func bootstrapRatio(cur, base []time.Duration, resamples int) (low, high float64) {
	r := mrand.New(mrand.NewPCG(5, 6))
	n := len(cur)
	ratios := make([]float64, resamples)
	c, b := make([]time.Duration, n), make([]time.Duration, n)
	for k := range ratios {
		for i := 0; i < n; i++ {
			j := r.IntN(n)
			c[i], b[i] = cur[j], base[j]
		}
		ratios[k] = float64(pct(c, 50)) / float64(pct(b, 50))
	}
	sort.Float64s(ratios)
	return ratios[resamples*25/1000], ratios[resamples*975/1000]
}

// pairedSection reports the comparisons.
func pairedSection(baseline string, n int, ps []*paired) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n## Before and after: this build against %s\n\n", baseline)
	fmt.Fprintf(&b, "Each path is called %d times in each build, in pairs (one call of each build, in a random order per pair, %s apart), "+
		"so that both calls of a pair see the same moment of the host. The interval is a 95%% bootstrap interval of the ratio over the pairs.\n\n",
		n, pairGap)
	b.WriteString("| path | this build p25 / p50 / p75 ms | baseline p25 / p50 / p75 ms | p50 ratio | 95% interval |\n|---|---|---|---|---|\n")
	for _, p := range ps {
		fmt.Fprintf(&b, "| %s | %.2f / %.2f / %.2f | %.2f / %.2f / %.2f | %.3fx | %.3fx - %.3fx |\n", p.name,
			ms(p.curPct[0]), ms(p.curPct[1]), ms(p.curPct[2]), ms(p.basePct[0]), ms(p.basePct[1]), ms(p.basePct[2]), p.ratio, p.low, p.high)
	}
	return b.String()
}
