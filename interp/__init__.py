"""The model engine. This package and its `schema` and `registry` modules import no torch;
`interp.engine` (analyze, analyze_many) and the modules it uses do, so import them lazily."""
