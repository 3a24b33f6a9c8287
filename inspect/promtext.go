package inspect

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// parsePromText reads Prometheus text exposition (Envoy's /stats/prometheus) into st: the samples
// of Istio's standard metrics, Envoy's per-cluster upstream counters, and the count of all
// samples. It reads the text as Prometheus' own parser (expfmt, which ParseStats used before)
// does, but for two things: a line that does not parse is counted in SkippedLines and the others
// are read, where expfmt rejects the whole text; and trailing blanks, tabs and CRs are ignored,
// as the format says (expfmt rejects them, CRLF line endings too).
//
// expfmt builds every metric of every family, labels and all, and Envoy exposes thousands of
// metrics the plugin does not read. Here the metric name comes first, and the labels of a metric
// the plugin does not use are only checked, never made into strings or maps (but for one key per
// histogram or summary series).
func (st *Stats) parsePromText(b []byte) {
	p := promParser{
		st:       st,
		families: map[string]*promFamily{},
		series:   map[string]bool{},
		clusters: map[string]string{},
	}
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if !p.line(bytes.TrimRight(line, " \t\r")) {
			st.SkippedLines++
		}
	}
}

// promParser holds what one text's lines tell about the next ones: the families met (their
// TYPE and HELP), and the series of histograms and summaries, which span several lines.
type promParser struct {
	st       *Stats
	families map[string]*promFamily
	// series holds the label sets (seriesKey) of the histograms and summaries met.
	series map[string]bool
	// lastFamily and lastKey are the series of the histogram or summary line read last.
	lastFamily *promFamily
	lastKey    []byte
	// found is the family the name foundName was found to belong to, last: a family's lines
	// come together. A name's family, once found, does not change.
	foundName []byte
	found     *promFamily
	// names are the label names of the previous Istio sample, by position: Istio writes the
	// same ones on every line.
	names []string
	// clusters interns cluster names: four counters name each cluster.
	clusters map[string]string

	// The current line (buf: see span) and its labels; key and values are seriesKey's and
	// labelMap's buffers.
	buf    []byte
	pairs  []labelPair
	key    []byte
	values []byte
}

// promFamily is what is known of one metric name.
type promFamily struct {
	name string
	// typed says whether a TYPE line or a sample set the family's type, after which a TYPE line
	// for it is an error.
	typed bool
	help  bool
	// grouped is "le" for a histogram and "quantile" for a summary: the label whose lines make
	// one sample (one series) with the _sum and _count lines of the same other labels.
	grouped string
	istio   bool
	counter func(*Counts, int64)
	// activeClusters marks Envoy's count of its clusters.
	activeClusters bool
}

// span is a name's or value's place in promParser.buf, which holds the line and then the names
// and values that had to be unescaped. Offsets rather than slices: the labels are written for
// every line, and slices would be pointers for the garbage collector.
type span struct{ from, to int }

type labelPair struct{ name, value span }

// promTypes are the types a TYPE line may give, in upper case as expfmt compares them, each with
// the label that spreads one sample of it over several lines.
var promTypes = map[string]string{
	"COUNTER": "", "GAUGE": "", "UNTYPED": "",
	"SUMMARY": "quantile", "HISTOGRAM": "le", "GAUGE_HISTOGRAM": "le", "GAUGEHISTOGRAM": "le",
}

func (p *promParser) text(sp span) []byte { return p.buf[sp.from:sp.to] }

// line reads one line, without its line feed and trailing whitespace; false if it does not parse.
func (p *promParser) line(s []byte) bool {
	p.buf = append(p.buf[:0], s...)
	i := skipBlank(s, 0)
	switch {
	case i == len(s):
		return true
	case s[i] == '#':
		return p.comment(s, i+1)
	}
	return p.sample(s, i)
}

// comment reads a comment from after its '#': only HELP and TYPE lines say something.
func (p *promParser) comment(s []byte, i int) bool {
	i = skipBlank(s, i)
	j := tokenEnd(s, i)
	help, typ := string(s[i:j]) == "HELP", string(s[i:j]) == "TYPE"
	if j == len(s) || !help && !typ {
		return true
	}
	sp, i, ok := p.name(s, skipBlank(s, j), metricChar)
	switch {
	case i == len(s):
		return true // "# TYPE name" alone says nothing, even of a name that is no UTF-8 (as in expfmt)
	case !ok, s[i] != ' ' && s[i] != '\t', sp.from == sp.to:
		return false
	}
	name := p.text(sp)
	f := p.family(name)
	text := s[skipBlank(s, i):]
	switch {
	case len(text) == 0:
		p.ensureFamily(f, name) // as expfmt does, though nothing is said of it
	case help:
		if f != nil && f.help || !validEscapes(text) {
			return false
		}
		p.ensureFamily(f, name).help = true
	default:
		// expfmt drops backslashes from the type, and compares it in upper case.
		grouped, known := promTypes[strings.ToUpper(strings.ReplaceAll(string(text), `\`, ""))]
		if f != nil && f.typed || !known {
			return false
		}
		f = p.ensureFamily(f, name)
		f.typed, f.grouped = true, grouped
	}
	return true
}

// sample reads `name{labels} value [timestamp]` or `{"name", labels} value [timestamp]`.
func (p *promParser) sample(s []byte, i int) bool {
	p.pairs = p.pairs[:0]
	var sp span
	if s[i] != '{' {
		var ok bool
		if sp, i, ok = p.name(s, i, metricChar); !ok || sp.from == sp.to {
			return false
		}
		i = skipBlank(s, i)
	}
	if i < len(s) && s[i] == '{' {
		var ok bool
		if sp, i, ok = p.labels(s, i+1, sp); !ok {
			return false
		}
		i = skipBlank(s, i)
	}
	if sp.from == sp.to {
		return false
	}
	j := tokenEnd(s, i)
	value, ok := promValue(s[i:j])
	if !ok {
		return false
	}
	if i = skipBlank(s, j); i < len(s) {
		j = tokenEnd(s, i)
		if _, err := strconv.ParseInt(string(s[i:j]), 10, 64); err != nil || j < len(s) {
			return false
		}
	}

	name := p.text(sp)
	f := p.family(name)
	grouped, istio := "", false
	if f != nil {
		grouped, istio = f.grouped, f.istio
	} else {
		istio = istioMetrics[string(name)] // a new family, neither histogram nor summary
	}
	if grouped != "" && p.sameSeries(f) {
		return true // a further line of the series just read, whose labels were checked
	}
	var labels map[string]string
	switch {
	case istio && grouped == "":
		// An Istio sample's labels become a map anyway, which tells a label named twice.
		if labels = p.labelMap(""); len(labels) < len(p.pairs) {
			return false
		}
	case p.duplicateLabel(grouped):
		return false
	}
	f = p.ensureFamily(f, name)
	f.typed = true
	if grouped != "" {
		if !p.newSeries(f) {
			return true
		}
		value = 0 // a histogram or summary has no one value (expfmt gives no counter, gauge or untyped)
	}
	p.st.Samples++
	switch {
	case f.istio:
		if labels == nil {
			labels = p.labelMap(grouped)
		}
		p.st.Istio = append(p.st.Istio, MetricSample{Name: f.name, Labels: labels, Value: value})
	case f.counter != nil:
		var cluster []byte
		for _, l := range p.pairs {
			if string(p.text(l.name)) == "cluster_name" {
				cluster = p.text(l.value)
			}
		}
		cn, ok := p.clusters[string(cluster)]
		if !ok {
			cn = string(cluster)
			p.clusters[cn] = cn
		}
		c := p.st.Clusters[cn]
		f.counter(&c, int64(value))
		p.st.Clusters[cn] = c
	case f.activeClusters:
		p.st.ActiveClusters = int(value)
	}
	return true
}

// labels reads label pairs from after '{' to past '}' into p.pairs. When the line starts with
// '{' (no name yet), one item without '=' is the metric name: the UTF-8 form `{"my.metric", a="b"}`.
func (p *promParser) labels(s []byte, i int, name span) (span, int, bool) {
	braced := name.from == name.to
	for {
		i = skipBlank(s, i)
		if i < len(s) && s[i] == '}' {
			return name, i + 1, true
		}
		label, j, ok := p.name(s, i, labelChar)
		if !ok || label.from == label.to {
			return span{}, 0, false
		}
		i = skipBlank(s, j)
		switch {
		case i < len(s) && s[i] == '=':
			if string(p.text(label)) == "__name__" {
				return span{}, 0, false
			}
			if i = skipBlank(s, i+1); i == len(s) || s[i] != '"' {
				return span{}, 0, false
			}
			var value span
			if value, i, ok = p.quoted(s, i+1, span{}); !ok {
				return span{}, 0, false
			}
			p.pairs = append(p.pairs, labelPair{label, value})
			i = skipBlank(s, i)
		case braced && name.from == name.to && i < len(s) && (s[i] == ',' || s[i] == '}'):
			name = label
		default:
			return span{}, 0, false
		}
		switch {
		case i < len(s) && s[i] == ',':
			i++
		case i < len(s) && s[i] == '}':
			return name, i + 1, true
		default:
			return span{}, 0, false
		}
	}
}

// name reads a metric name (class metricChar) or a label name (labelChar) at s[i:] as expfmt
// does: name characters, in which a double quote opens a quoted run (the UTF-8 form) that ends
// the name where it closes. An empty name is no error here: the caller decides.
func (p *promParser) name(s []byte, i int, class uint8) (span, int, bool) {
	start := i
	if i == len(s) || !(nameChars[s[i]]&class != 0 && (s[i] < '0' || s[i] > '9') || s[i] == '"') {
		return span{i, i}, i, true
	}
	for i < len(s) && nameChars[s[i]]&class != 0 {
		i++
	}
	if i == len(s) || s[i] != '"' {
		return span{start, i}, i, true
	}
	return p.quoted(s, i+1, span{start, i})
}

// quoted reads a quoted string from after its opening quote, after the name characters prefix,
// and returns where it is in p.buf and the index past its closing quote. It is false unless the
// string closes, has only the format's escapes (\\, \" and \n) and is UTF-8; the index is -1 unless
// the string closes. Only a string with escapes or a prefix is copied: p.buf holds the line.
func (p *promParser) quoted(s []byte, i int, prefix span) (span, int, bool) {
	j, high := plainRun(s, i)
	if j < len(s) && s[j] == '"' && prefix.from == prefix.to {
		return span{i, j}, j + 1, high < utf8.RuneSelf || utf8.Valid(s[i:j])
	}
	sp := span{from: len(p.buf)}
	p.buf = append(p.buf, s[prefix.from:prefix.to]...)
	for {
		p.buf = append(p.buf, s[i:j]...)
		switch {
		case j == len(s) || s[j] == '\\' && j+1 == len(s):
			return span{}, -1, false
		case s[j] == '"':
			sp.to = len(p.buf)
			return sp, j + 1, utf8.Valid(p.text(sp))
		case s[j+1] == '\\' || s[j+1] == '"':
			p.buf = append(p.buf, s[j+1])
		case s[j+1] == 'n':
			p.buf = append(p.buf, '\n')
		default:
			return span{}, -1, false
		}
		i = j + 2
		j, _ = plainRun(s, i)
	}
}

// plainRun is the end of the run of s[i:] without quote or backslash, and the OR of its bytes,
// which is below utf8.RuneSelf when the run is ASCII.
func plainRun(s []byte, i int) (int, byte) {
	high := byte(0)
	for ; i < len(s) && s[i] != '"' && s[i] != '\\'; i++ {
		high |= s[i]
	}
	return i, high
}

// family finds the family a name belongs to as expfmt does: the family of that name, or the
// histogram or summary whose _bucket, _sum or _count line it is; nil when it has none yet.
func (p *promParser) family(name []byte) *promFamily {
	if p.found != nil && bytes.Equal(name, p.foundName) {
		return p.found
	}
	f := p.families[string(name)]
	if f == nil {
		f = p.groupFamily(name)
	}
	if f != nil {
		p.foundName, p.found = append(p.foundName[:0], name...), f
	}
	return f
}

// groupFamily is the histogram or summary whose _bucket, _sum or _count line name is, if any.
func (p *promParser) groupFamily(name []byte) *promFamily {
	for _, suffix := range [...]string{"_count", "_sum", "_bucket"} {
		n := len(name) - len(suffix)
		if n <= 0 || string(name[n:]) != suffix {
			continue
		}
		if f := p.families[string(name[:n])]; f != nil && (f.grouped == "le" || f.grouped == "quantile" && suffix != "_bucket") {
			return f
		}
		return nil
	}
	return nil
}

// ensureFamily returns f, or the new family of name when f is nil.
func (p *promParser) ensureFamily(f *promFamily, name []byte) *promFamily {
	if f != nil {
		return f
	}
	f = &promFamily{name: string(name)}
	f.istio = istioMetrics[f.name]
	f.activeClusters = f.name == metricActiveClusters
	if stat, ok := strings.CutPrefix(f.name, "envoy_cluster_"); ok {
		f.counter = clusterCounters[stat]
	}
	p.families[f.name] = f
	return f
}

// duplicateLabel reports whether the line names a label twice (the grouping label of a histogram
// or summary aside, which expfmt does not keep). It sorts p.pairs by name, which keeps a line of
// many labels from costing the square of their number.
func (p *promParser) duplicateLabel(grouped string) bool {
	p.sortPairs()
	for i := 1; i < len(p.pairs); i++ {
		name := p.text(p.pairs[i].name)
		if bytes.Equal(name, p.text(p.pairs[i-1].name)) && string(name) != grouped {
			return true
		}
	}
	return false
}

func (p *promParser) sortPairs() {
	slices.SortFunc(p.pairs, func(a, b labelPair) int { return bytes.Compare(p.text(a.name), p.text(b.name)) })
}

// sameSeries reports whether the line is of the histogram or summary series of f read last: the
// same labels in the same order, the grouping one aside. A series' lines come together, so most
// lines are, and are spared the duplicate check and the lookup. It leaves the line's key in p.key.
func (p *promParser) sameSeries(f *promFamily) bool {
	p.key = p.seriesKey(f)
	return f == p.lastFamily && bytes.Equal(p.key, p.lastKey)
}

// newSeries records the line's series as the last one read (p.key, from sameSeries) and reports
// whether f had no such series yet, in any label order.
func (p *promParser) newSeries(f *promFamily) bool {
	p.lastFamily, p.lastKey = f, append(p.lastKey[:0], p.key...)
	p.sortPairs()
	p.key = p.seriesKey(f)
	if p.series[string(p.key)] {
		return false
	}
	p.series[string(p.key)] = true
	return true
}

// seriesKey is f's name and the line's labels but the grouping one, in line order, separated
// by 0xff (never in UTF-8).
func (p *promParser) seriesKey(f *promFamily) []byte {
	key := append(p.key[:0], f.name...)
	for _, l := range p.pairs {
		if string(p.text(l.name)) != f.grouped {
			key = append(key, 0xff)
			key = append(key, p.text(l.name)...)
			key = append(key, 0xff)
			key = append(key, p.text(l.value)...)
		}
	}
	return key
}

// labelMap is the line's labels but the grouping one. The values share one string; the names
// are the previous sample's when they are the same.
func (p *promParser) labelMap(grouped string) map[string]string {
	labels := make(map[string]string, len(p.pairs))
	p.values = p.values[:0]
	for _, l := range p.pairs {
		p.values = append(p.values, p.text(l.value)...)
	}
	values := string(p.values)
	for i, l := range p.pairs {
		name := p.text(l.name)
		if i == len(p.names) {
			p.names = append(p.names, "")
		}
		if p.names[i] != string(name) {
			p.names[i] = string(name)
		}
		n := l.value.to - l.value.from
		if p.names[i] != grouped {
			labels[p.names[i]] = values[:n]
		}
		values = values[n:]
	}
	return labels
}

// promValue parses a sample value as expfmt does: Go's float syntax without hex floats or
// underscores, with NaN, +Inf and -Inf.
func promValue(b []byte) (float64, bool) {
	for _, c := range b {
		if c == 'p' || c == 'P' || c == '_' {
			return 0, false
		}
	}
	v, err := strconv.ParseFloat(string(b), 64)
	return v, err == nil
}

// validEscapes reports whether every backslash of a HELP text starts \\, \" or \n.
func validEscapes(b []byte) bool {
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		if i+1 == len(b) || b[i+1] != '\\' && b[i+1] != '"' && b[i+1] != 'n' {
			return false
		}
		i++
	}
	return true
}

// nameChars classes the bytes of unquoted names: label names are [a-zA-Z0-9_], metric names
// may also hold ':'. Neither starts with a digit.
var nameChars = func() (t [256]uint8) {
	for c := range t {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_':
			t[c] = labelChar | metricChar
		case c == ':':
			t[c] = metricChar
		}
	}
	return t
}()

const (
	labelChar = 1 << iota
	metricChar
)

func skipBlank(s []byte, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

// tokenEnd is the end of the token at s[i:]: the next blank or tab, or the line's end.
func tokenEnd(s []byte, i int) int {
	for i < len(s) && s[i] != ' ' && s[i] != '\t' {
		i++
	}
	return i
}
