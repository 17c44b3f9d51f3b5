package metrics

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// PoolCollector reports a pgxpool.Pool's Stat at each scrape.
type PoolCollector struct {
	pool *pgxpool.Pool
}

// NewPoolCollector returns the collector of pool's usage.
func NewPoolCollector(pool *pgxpool.Pool) *PoolCollector { return &PoolCollector{pool: pool} }

var (
	poolAcquired     = prometheus.NewDesc("ticketing_db_pool_acquired_conns", "Connections of the pool in use.", nil, nil)
	poolIdle         = prometheus.NewDesc("ticketing_db_pool_idle_conns", "Idle connections of the pool.", nil, nil)
	poolTotal        = prometheus.NewDesc("ticketing_db_pool_total_conns", "Connections of the pool: acquired, idle and being opened.", nil, nil)
	poolMax          = prometheus.NewDesc("ticketing_db_pool_max_conns", "Most connections the pool opens.", nil, nil)
	poolConstructing = prometheus.NewDesc("ticketing_db_pool_constructing_conns", "Connections of the pool being opened.", nil, nil)
	poolAcquires     = prometheus.NewDesc("ticketing_db_pool_acquires_total", "Connections acquired from the pool.", nil, nil)
	poolEmpty        = prometheus.NewDesc("ticketing_db_pool_empty_acquires_total", "Acquires that had to wait: the pool had no idle connection.", nil, nil)
	poolCanceled     = prometheus.NewDesc("ticketing_db_pool_canceled_acquires_total", "Acquires given up by their context.", nil, nil)
	poolWait         = prometheus.NewDesc("ticketing_db_pool_acquire_wait_seconds_total", "Time acquires spent waiting for a connection, when none was idle.", nil, nil)
	poolAcquireTime  = prometheus.NewDesc("ticketing_db_pool_acquire_seconds_total", "Time spent in every acquire, waiting or not.", nil, nil)
)

// Describe implements prometheus.Collector.
func (c *PoolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolAcquired, poolIdle, poolTotal, poolMax, poolConstructing, poolAcquires, poolEmpty, poolCanceled, poolWait, poolAcquireTime} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *PoolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	count := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge(poolAcquired, float64(s.AcquiredConns()))
	gauge(poolIdle, float64(s.IdleConns()))
	gauge(poolTotal, float64(s.TotalConns()))
	gauge(poolMax, float64(s.MaxConns()))
	gauge(poolConstructing, float64(s.ConstructingConns()))
	count(poolAcquires, float64(s.AcquireCount()))
	count(poolEmpty, float64(s.EmptyAcquireCount()))
	count(poolCanceled, float64(s.CanceledAcquireCount()))
	count(poolWait, s.EmptyAcquireWaitTime().Seconds())
	count(poolAcquireTime, s.AcquireDuration().Seconds())
}
