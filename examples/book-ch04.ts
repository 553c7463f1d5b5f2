// The book's ch04/train_neuralnet.py on mnist-ts: MNIST, a 784-50-10 two-layer net, minibatch SGD,
// the train and test accuracy once per epoch. The defaults are the book's; for a shorter job:
//   node dist/examples/book-ch04.js --train-limit 5000 --test-limit 1000 --iters 500
import { parseArgs } from "node:util";
import { loadMnistRaw, saveModel, train, type TrainListener } from "mnist-ts";

const { values: flags } = parseArgs({
  options: { iters: { type: "string" }, "train-limit": { type: "string" }, "test-limit": { type: "string" }, seed: { type: "string" }, save: { type: "string" } },
});
const given = (name: keyof typeof flags) => (flags[name] === undefined ? undefined : Number(flags[name]));

// load_mnist(normalize=True, one_hot_label=True): the 70,000 bundled digits, no download.
// train() keeps them as bytes and scales each batch by 1/255 as it draws it.
const mnist = await loadMnistRaw();

// The book's hyperparameters, and its TwoLayerNet(input_size=784, hidden_size=50, output_size=10).
const hyperparameters = {
  iters: given("iters") ?? 10_000, // iters_num
  batchSize: 100, // batch_size
  lr: 0.1, // learning_rate
  hiddenSize: 50,
  weightInitStd: 0.01,
  seed: given("seed") ?? 1,
  trainLimit: given("train-limit"),
  testLimit: given("test-limit"),
};

// The loop: each iteration draws batch_size images with replacement (np.random.choice), takes the
// gradient by back-propagation, steps W1, b1, W2, b2 by -lr * grad, and records the loss; every
// iter_per_epoch iterations it measures the accuracy on the whole training and test sets.
const trainLossList: number[] = [];
const report: TrainListener = {
  iteration: ({ loss }) => trainLossList.push(loss),
  epoch: ({ epoch, trainAccuracy, testAccuracy }) =>
    console.log(`epoch ${epoch.toFixed(2)}  train acc, test acc | ${trainAccuracy.toFixed(4)}, ${testAccuracy.toFixed(4)}`),
};
const result = await train(mnist, hyperparameters, { listeners: report });

console.log(`final loss ${trainLossList.at(-1)!.toFixed(4)} after ${trainLossList.length} iterations (${result.wallTimeS.toFixed(1)} s)`);
// A model.json that mnist-eval and mnist-predict read, when asked for one.
if (flags.save) await saveModel(flags.save, result);
