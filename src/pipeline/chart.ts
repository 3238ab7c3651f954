/** Renders a vega-lite spec to a PNG file (vega-lite -> vega -> SVG -> resvg), for the CLI and the benchmarks. */
import * as fs from 'fs';

export async function renderVegaLitePng(spec: unknown, file: string, width = 1200): Promise<void> {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const vega = require('vega') as {
    View: new (...a: unknown[]) => {toSVG(): Promise<string>};
    parse(spec: unknown): unknown;
  };
  const vl = require('vega-lite') as {compile(spec: unknown): {spec: unknown}};
  const {Resvg} = require('@resvg/resvg-js') as {Resvg: new (svg: string, o: unknown) => {render(): {asPng(): Buffer}}};
  /* eslint-enable @typescript-eslint/no-require-imports */
  const view = new vega.View(vega.parse(vl.compile(spec).spec), {renderer: 'none'});
  const svg = await view.toSVG();
  fs.writeFileSync(
    file,
    new Resvg(svg, {fitTo: {mode: 'width', value: width}, font: {loadSystemFonts: true}, background: 'white'})
      .render()
      .asPng(),
  );
}
