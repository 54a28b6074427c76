// A line chart of message rates on a plain canvas: two series (in, out) over a sliding time
// window. No library: the chart is small, and every byte of the page is built into the broker.
"use strict";

class RateChart {
  constructor(canvas, windowSeconds) {
    this.canvas = canvas;
    this.windowMs = windowSeconds * 1000;
    this.points = [];  // {t: ms, in: msg/s, out: msg/s}
    const css = getComputedStyle(document.documentElement);
    this.colors = {
      in: css.getPropertyValue("--in").trim() || "#2f6fdf",
      out: css.getPropertyValue("--out").trim() || "#e0812b",
      grid: css.getPropertyValue("--line").trim() || "#e3e6ea",
      text: css.getPropertyValue("--muted").trim() || "#667085",
    };
  }

  push(t, rateIn, rateOut) {
    this.points.push({ t, in: rateIn, out: rateOut });
    while (this.points.length && this.points[0].t < t - this.windowMs) this.points.shift();
    this.draw(t);
  }

  // A "nice" axis maximum: 1, 2 or 5 times a power of ten, at least 1.
  static niceMax(v) {
    if (!(v > 1)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
    return 10 * p;
  }

  static label(v) {
    if (v >= 1e6) return +(v / 1e6).toFixed(1) + "M";
    if (v >= 1e3) return +(v / 1e3).toFixed(1) + "k";
    return String(+v.toFixed(2));
  }

  draw(now) {
    const c = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const w = c.clientWidth || c.width, h = c.clientHeight || c.height;
    if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(h * dpr);
    }
    const g = c.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    const left = 48, right = 8, top = 8, bottom = 22;
    const pw = w - left - right, ph = h - top - bottom;
    let max = 0;
    for (const p of this.points) max = Math.max(max, p.in, p.out);
    max = RateChart.niceMax(max);
    // Grid steps that stay round: 1 -> 0.2, 2 -> 0.5, 5 -> 1 (times the power of ten).
    const steps = String(max).startsWith("2") ? 4 : 5;
    const x = (t) => left + pw * (1 - (now - t) / this.windowMs);
    const y = (v) => top + ph * (1 - v / max);

    g.font = "11px system-ui, sans-serif";
    g.fillStyle = this.colors.text;
    g.strokeStyle = this.colors.grid;
    g.lineWidth = 1;
    g.textAlign = "right";
    g.textBaseline = "middle";
    for (let i = 0; i <= steps; i++) {
      const v = (max * i) / steps;
      g.beginPath();
      g.moveTo(left, Math.round(y(v)) + 0.5);
      g.lineTo(left + pw, Math.round(y(v)) + 0.5);
      g.stroke();
      g.fillText(RateChart.label(v), left - 6, y(v));
    }
    g.textAlign = "center";
    g.textBaseline = "top";
    const minutes = this.windowMs / 60000;
    for (let m = 0; m <= minutes; m++) {
      const t = now - m * 60000;
      g.fillText(m === 0 ? "now" : `-${m} min`, Math.min(Math.max(x(t), left + 16), left + pw - 16), top + ph + 6);
    }

    // "out" dashed: with one subscriber per message the two lines lie on each other.
    for (const series of ["in", "out"]) {
      g.strokeStyle = this.colors[series];
      g.lineWidth = 2;
      g.setLineDash(series === "out" ? [6, 4] : []);
      g.beginPath();
      this.points.forEach((p, i) => (i ? g.lineTo(x(p.t), y(p[series])) : g.moveTo(x(p.t), y(p[series]))));
      g.stroke();
    }
    g.setLineDash([]);
  }
}

window.RateChart = RateChart;
