// The parts of Apache ECharts the screens use, and nothing else: bar, line, heatmap and scatter charts on a
// canvas, with grid, legend, tooltip and a continuous colour scale. Imported lazily by
// components/Chart.svelte, so the label screen never loads it.
import { init, use, type ECharts, type EChartsCoreOption } from 'echarts/core';
import { BarChart, HeatmapChart, LineChart, ScatterChart } from 'echarts/charts';
import { GridComponent, LegendPlainComponent, TooltipComponent, VisualMapContinuousComponent } from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';

use([BarChart, HeatmapChart, LineChart, ScatterChart, GridComponent, LegendPlainComponent, TooltipComponent, VisualMapContinuousComponent, CanvasRenderer]);

export { init, type ECharts, type EChartsCoreOption };
