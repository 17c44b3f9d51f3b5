package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/ticketing/ticketing/infra/postgres"
	"github.com/ticketing/ticketing/projections"
)

// statusCommand is `ticketing projections status`: each projection's
// checkpoint, lag and state, and the streams it parked.
type statusCommand struct{ json bool }

// Flags attaches --json.
func (x *statusCommand) Flags(fs *flag.FlagSet, _ *Config) {
	fs.BoolVar(&x.json, "json", false, "print JSON instead of a table")
}

// Run prints the report.
func (x *statusCommand) Run(ctx context.Context, s *session) error {
	store, _, err := s.Store(ctx)
	if err != nil {
		return err
	}
	q := projections.NewQueries(postgres.NewReadModels(s.pool).DB())
	r, err := report(ctx, store, q)
	if err != nil {
		return err
	}
	if r.Refunds, err = refundBacklog(ctx, q); err != nil { // issue 14: money
		return err
	}
	leaders, err := postgres.Leaders(ctx, s.pool) // issue 15: singleton
	if err != nil {
		return err
	}
	return printStatusLeaders(os.Stdout, r, leaders, x.json)
}

// printStatus writes the progress report as a table or as JSON.
func printStatus(w io.Writer, r progressReport, asJSON bool) error {
	return printStatusLeaders(w, r, nil, asJSON)
}

// printStatusLeaders writes the progress report and who runs each
// singleton role (issue 15: singleton) as a table or as JSON.
func printStatusLeaders(w io.Writer, r progressReport, leaders []postgres.Leader, asJSON bool) error {
	if asJSON {
		type row struct {
			projections.Progress
			Position   string  `json:"position"`
			LagEvents  uint64  `json:"lag_events"`
			LagSeconds float64 `json:"lag_seconds"`
		}
		out := struct {
			Head        string `json:"head"`
			Relay       *lag   `json:"relay,omitempty"`
			Projections []row  `json:"projections"`
			// issue 14: money
			Refunds *projections.RefundBacklog `json:"refund_process,omitempty"`
			// issue 15: singleton
			Singletons []postgres.Leader `json:"singletons,omitempty"`
		}{Head: r.Head.String(), Relay: r.Relay, Refunds: r.Refunds, Singletons: leaders}
		for _, p := range r.Projections {
			out.Projections = append(out.Projections, row{p.Progress, p.Position.String(), p.Lag.Events, p.Lag.Seconds})
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "log head\t%s\n", r.Head)
	if r.Relay != nil {
		fmt.Fprintf(tw, "relay\t%s\tlag %d events, %.3fs\n", r.RelayAt, r.Relay.Events, r.Relay.Seconds)
	}
	fmt.Fprintln(tw, "\nPROJECTION\tMODE\tCHECKPOINT\tLAG EVENTS\tLAG SECONDS\tSTATE\tERROR")
	for _, p := range r.Projections {
		state := p.State
		if state == "" {
			state = "never ran"
		}
		if n := len(p.Parked); n > 0 {
			state += fmt.Sprintf("; %d stream(s) parked", n)
		}
		if rb := p.Rebuild; rb != nil {
			pct := 100.0
			if rb.Target > 0 {
				pct = 100 * float64(rb.Position) / float64(rb.Target)
			}
			verb := "rebuilding"
			if time.Since(rb.UpdatedAt) > 30*time.Second {
				verb = "rebuild interrupted"
			}
			state += fmt.Sprintf("; %s (%s) %.0f%% (%d/%d)", verb, rb.Mode, pct, rb.Position, rb.Target)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%.3f\t%s\t%s\n", p.Name, p.Mode, p.Position, p.Lag.Events, p.Lag.Seconds, state, p.LastError)
	}
	var parked []projections.ParkedStream
	for _, p := range r.Projections {
		parked = append(parked, p.Parked...)
	}
	if len(parked) > 0 {
		fmt.Fprintln(tw, "\nPARKED STREAM\tPROJECTION\tVERSION\tPOSITION\tTYPE\tWAITING\tPARKED AT\tERROR")
		printParked(tw, parked)
		fmt.Fprintln(tw, "\nresume a stream once the projector is fixed: ticketing projections retry --projection NAME --stream ID")
	}
	printRefundProcess(tw, r.Refunds) // issue 14: money
	printLeaders(tw, leaders)         // issue 15: singleton
	return tw.Flush()
}

// printLeaders writes who runs each singleton role, and since when: the
// active process, or the last one, now gone, when none is active.
func printLeaders(tw io.Writer, leaders []postgres.Leader) {
	if len(leaders) == 0 {
		return
	}
	fmt.Fprintln(tw, "\nSINGLETON\tACTIVE\tHOST\tPID\tSINCE")
	for _, l := range leaders {
		active := "yes"
		if !l.Active {
			active = "none (last holder shown)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", l.Name, active, l.Host, l.PID, l.Since.UTC().Format(time.RFC3339))
	}
}

// printParked writes a row per parked stream.
func printParked(tw io.Writer, parked []projections.ParkedStream) {
	for _, s := range parked {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%d\t%s\t%s\n", s.Stream, s.Projection, s.Version, s.Position, s.Type, s.Waiting,
			s.ParkedAt.Format(time.RFC3339), s.Error)
	}
}
