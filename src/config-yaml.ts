// yaml's parser, for config.ts to load only when there is a file to read. yaml is CommonJS:
// an ES module in between keeps its named exports when the CLI runs from the bundle (a
// bundled `import('yaml')` would have only the default one).
export { parse } from 'yaml'
