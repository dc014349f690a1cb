"""Models trained elsewhere: ONNX files run by onnxruntime, and any timm architecture from a
state_dict, each read with a JSON description (``description.py``). Never imports Django;
``onnx_runner`` does not need torch either."""
