package ingress

import (
	"context"
	"errors"

	"github.com/incidentd/incidentd/projector"
)

// Views is what the dashboard API reads through: the projector's query
// layer over ClickHouse (projector.Queries satisfies it). Every method
// takes the tenant; an incident of another tenant is ErrNotFound, the same
// as an unknown one.
type Views interface {
	List(ctx context.Context, tenant string, q projector.ListQuery) (projector.ListPage, error)
	Get(ctx context.Context, tenant, id string) (projector.Timeline, error)
	// Version is the latest version of the incident the view holds.
	Version(ctx context.Context, tenant, id string) (uint64, error)
	Analytics(ctx context.Context, tenant string, q projector.AnalyticsQuery) (projector.Analytics, error)
}

// ErrNotFound is what a Views implementation returns (or wraps) for an
// unknown incident. Any other error means the views are unavailable and is
// answered 503.
var ErrNotFound = errors.New("ingress: not found")

// notFoundFunc recognises the views' own not-found error (WithNotFound),
// e.g. projector.ErrNotFound.
type notFoundFunc func(error) bool
