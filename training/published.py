"""The published figures and code lines (Part 2 of the assignment report and its appendix), as data.

The report compares our runs against these figures and quotes these lines wherever it says what the
published code did. Accuracies are fractions, times seconds on the published author's machine.
"""

#: Tables 1 and 2: class -> (precision, recall, f1, support) of the stride model, train and test.
TABLE1 = {
    0: (0.70, 0.65, 0.67, 505),
    1: (0.75, 0.76, 0.76, 460),
    2: (0.55, 0.52, 0.54, 519),
    3: (0.65, 0.41, 0.50, 486),
    4: (0.48, 0.65, 0.56, 519),
    5: (0.65, 0.54, 0.59, 488),
    6: (0.59, 0.77, 0.67, 518),
    7: (0.68, 0.67, 0.68, 486),
    8: (0.75, 0.69, 0.72, 520),
    9: (0.70, 0.77, 0.73, 498),
    "accuracy": 0.64,
    "macro f1": 0.64,
    "n": 4999,
}
TABLE2 = {
    0: (0.59, 0.55, 0.57, 1000),
    1: (0.65, 0.65, 0.65, 1000),
    2: (0.40, 0.38, 0.39, 1000),
    3: (0.39, 0.23, 0.29, 1000),
    4: (0.37, 0.49, 0.42, 1000),
    5: (0.45, 0.35, 0.39, 1000),
    6: (0.48, 0.67, 0.56, 1000),
    7: (0.57, 0.56, 0.56, 1000),
    8: (0.62, 0.59, 0.61, 1000),
    9: (0.57, 0.62, 0.59, 1000),
    "accuracy": 0.51,
    "macro f1": 0.50,
    "n": 10000,
}
#: Tables 3 and 4: the most-frequent baseline (class 8) on train and test.
BASELINE = {"class": 8, "train_accuracy": 0.10, "test_accuracy": 0.10, "train_f1_8": 0.19, "test_f1_8": 0.18}
#: Table 5 (cumulative training): n -> (time, train accuracy, test accuracy).
TABLE5 = {
    5000: (75.5, 0.6227, 0.4909),
    10000: (146.3, 0.7112, 0.5649),
    20000: (297.7, 0.7335, 0.6251),
    40000: (590.9, 0.7400, 0.6816),
}
#: Table 6: L1 weight -> (train accuracy, test accuracy), 20 epochs each.
TABLE6 = {
    0.0001: (0.6065, 0.4836),
    0.01: (0.4688, 0.4255),
    0.1: (0.3250, 0.3169),
    1.0: (0.1932, 0.1844),
    10.0: (0.1048, 0.1008),
    50.0: (0.1044, 0.1002),
    100.0: (0.1038, 0.1000),
    1000.0: (0.1010, 0.0925),
}
#: Tables 7 (max pooling) and 8 (strides), 5k samples: (time, train accuracy, test accuracy).
TABLE7 = (75.0, 0.6411, 0.5415)
TABLE8 = (75.5, 0.6227, 0.4909)
#: Table 9 (deeper network; its accuracies come from `model.predict`, see CODE): n -> (time, train, test).
TABLE9 = {
    5000: (52.0, 0.786, 0.704),
    10000: (127.0, 0.779, 0.705),
    20000: (184.0, 0.777, 0.707),
    40000: (399.0, 0.767, 0.708),
}
#: Parameter counts the published text states.
PARAMS = {"stride": 37146, "maxpool": 37146, "deeper_text": 23734, "deeper_summary": 23314, "largest": ("conv4", 9248)}
#: Settings of the published runs (Part 2 appendix); a table made with others says so.
EPOCHS = 20
BATCH_SIZE = 128

#: Lines of the published appendix code, verbatim (whitespace joined), that the report quotes.
CODE = {
    # Part 2b(i): the global ``model`` is built and fitted once on the 5k subset.
    "fit_base": "history = model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, validation_split=0.1)",
    "predict_base": "preds = model.predict(x_train)",
    # model_train_sizes: the loop body fits the same global ``model`` for every size.
    "subset": "x_train = x_train_orig[1:n]; y_train = y_train_orig[1:n]",
    "fit_sizes": "history = model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, validation_split=0.1)",
    # model_vary_L1: a new local model per weight.
    "l1_new_model": "model = keras.Sequential()",
    # Part 2d: model3 is fitted once before model_train_sizesII ...
    "fit_model3": "history3 = model3.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, validation_split=0.1)",
    # ... which fits model3 per size but scores the global ``model``.
    "fit_sizes_ii": (
        "history = model3.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, validation_split=0.1)"
    ),
    "predict_train_ii": "y_preds_train = model.predict(x_train)",
    "predict_test_ii": "y_preds_test = model.predict(x_test)",
}
#: The published text on Figure 4 (Part 2b(ii)): where training accuracy overtakes validation accuracy.
FIGURE4_TEXT = (
    "After about 7 or 8 epochs of training the results on the training data begin to steadily outperform that of "
    "the validation data. From this point on the training accuracy never falls below that of the validation accuracy"
)
#: The published accuracy-crossing epochs read from that text.
FIGURE4_CROSSING = (7, 8)
