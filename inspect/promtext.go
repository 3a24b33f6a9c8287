package inspect

import (
	"bytes"
	"fmt"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// textToMetricFamilies is expfmt's text parser, made safe: on some malformed input it panics
// (prometheus/common v0.67.5 dereferences a nil family on a sample "{}" after another sample,
// found by FuzzStats). A proxy's odd output is a parse error, never a crash.
func textToMetricFamilies(b []byte) (fams map[string]*dto.MetricFamily, err error) {
	defer func() {
		if r := recover(); r != nil {
			fams, err = nil, fmt.Errorf("malformed Prometheus text: %v", r)
		}
	}()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	return parser.TextToMetricFamilies(bytes.NewReader(b))
}
