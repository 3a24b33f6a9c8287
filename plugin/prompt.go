package plugin

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"golang.org/x/term"
)

// errAborted is the answer to Ctrl-C or end of input at a prompt.
var errAborted = errors.New("nothing applied: aborted")

// linePrompt asks on out and reads answers from in, a line at a time. Plain line prompts work
// in every terminal, screen reader and `script` session, and answers typed ahead are kept.
type linePrompt struct {
	in  io.Reader
	out io.Writer
}

// Confirm asks a yes/no question; no is the default. It is the fix flow's Confirmer.
func (p *linePrompt) Confirm(question string) (bool, error) {
	fmt.Fprintf(p.out, "%s [y/N]: ", question)
	line, err := p.readLine()
	if err != nil {
		return false, err
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

// readLine reads one answer; end of input or Ctrl-C (SIGINT, which the terminal sends instead
// of a key) aborts before anything is applied.
func (p *linePrompt) readLine() (string, error) {
	type answer struct {
		line string
		err  error
	}
	got := make(chan answer, 1)
	go func() {
		line, err := readLineFrom(p.in)
		got <- answer{line, err}
	}()
	interrupt := make(chan os.Signal, 1)
	signal.Notify(interrupt, os.Interrupt)
	defer signal.Stop(interrupt)
	select {
	case a := <-got:
		return a.line, a.err
	case <-interrupt:
		fmt.Fprintln(p.out)
		// An interrupt, whichever of this handler and the command's context hears it first.
		return "", fmt.Errorf("%w (%w)", errAborted, ErrInterrupted)
	}
}

// readLineFrom reads a line a byte at a time, so nothing typed ahead is swallowed by a buffer.
func readLineFrom(in io.Reader) (string, error) {
	var b strings.Builder
	buf := make([]byte, 1)
	for {
		n, err := in.Read(buf)
		if n == 1 {
			if buf[0] == '\n' {
				return strings.TrimSuffix(b.String(), "\r"), nil
			}
			b.WriteByte(buf[0])
		}
		if err != nil {
			if errors.Is(err, io.EOF) && b.Len() > 0 {
				return b.String(), nil // a last answer without a newline
			}
			return "", errAborted
		}
	}
}

func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
