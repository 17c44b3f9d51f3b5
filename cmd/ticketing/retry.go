package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/postgres"
	"github.com/ticketing/ticketing/projections"
)

// retryOptions are the flags of `ticketing projections retry`.
type retryOptions struct {
	Projection string
	Streams    []string
	All        bool
}

// retryCommand is `ticketing projections retry`: it resumes streams a
// projection parked, with the projectors of this binary (the fixed
// release), whether or not the engine runs at the time.
type retryCommand struct{ o retryOptions }

// Flags attaches --projection, --stream and --all.
func (x *retryCommand) Flags(fs *flag.FlagSet, _ *Config) {
	o := &x.o
	fs.StringVar(&o.Projection, "projection", "", "the projection that parked the streams: "+strings.Join(projectionNames(), ", "))
	fs.Func("stream", "a parked stream to resume (repeatable)", func(s string) error {
		o.Streams = append(o.Streams, s)
		return nil
	})
	fs.BoolVar(&o.All, "all", false, "resume every stream the projection parked")
}

// Run resumes the streams and prints what it did.
func (x *retryCommand) Run(ctx context.Context, s *session) error {
	pool, err := s.Pool(ctx)
	if err != nil {
		return err
	}
	reports, err := retry(ctx, pool, projections.All(), x.o)
	printRetry(os.Stdout, reports)
	return err
}

// retryReport is what a retry did with one parked stream.
type retryReport struct {
	Projection string
	Stream     string
	Result     projections.RetryResult
	Err        error
}

// retry resumes the parked streams o names with the projector of o's
// projection among projectors. It fails when a stream stays parked.
func retry(ctx context.Context, pool *pgxpool.Pool, projectors []projections.Projector, o retryOptions) ([]retryReport, error) {
	var p projections.Projector
	for _, q := range projectors {
		if q.Name() == o.Projection {
			p = q
		}
	}
	if p == nil {
		return nil, fmt.Errorf("projections retry: give --projection NAME (one of %s)", strings.Join(projectionNames(), ", "))
	}
	if o.All == (len(o.Streams) > 0) {
		return nil, errors.New("projections retry: give --stream ID (repeatable) or --all")
	}
	models := postgres.NewReadModels(pool)
	streams := o.Streams
	if o.All {
		parked, err := projections.NewQueries(models.DB()).ParkedStreams(ctx, p.Name())
		if err != nil {
			return nil, err
		}
		for _, s := range parked {
			streams = append(streams, s.Stream)
		}
	}
	registry := domain.NewRegistry()
	domain.RegisterEvents(registry)
	var reports []retryReport
	var errs []error
	for _, stream := range streams {
		res, err := projections.Retry(ctx, models, registry, p, stream)
		if err == nil && res.Parked != nil {
			err = fmt.Errorf("%s is still parked at version %d: %s", stream, res.Parked.Version, res.Parked.Error)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("projections retry %s: %w", p.Name(), err))
		}
		reports = append(reports, retryReport{Projection: p.Name(), Stream: stream, Result: res, Err: err})
	}
	return reports, errors.Join(errs...)
}

// printRetry writes what the retry did with each stream.
func printRetry(w io.Writer, reports []retryReport) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROJECTION\tSTREAM\tAPPLIED\tRESULT")
	for _, r := range reports {
		result := "resumed"
		switch {
		case r.Result.Parked != nil:
			result = fmt.Sprintf("still parked at version %d (position %s): %s", r.Result.Parked.Version, r.Result.Parked.Position, r.Result.Parked.Error)
		case r.Err != nil:
			result = "FAILED: " + r.Err.Error()
		case r.Result.Applied == 0:
			result = "not parked"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", r.Projection, r.Stream, r.Result.Applied, result)
	}
	_ = tw.Flush()
}
