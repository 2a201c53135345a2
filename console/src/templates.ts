/** Label config templates offered when creating a project (Label Studio's tag names). */
export interface Template {
  id: string;
  name: string;
  config: string;
}

export const TEMPLATES: Template[] = [
  {
    id: 'image-classification',
    name: 'Image classification',
    config: '<View>\n  <Image name="image" value="$image"/>\n  <Choices name="choice" toName="image">\n    <Choice value="Cat"/>\n    <Choice value="Dog"/>\n  </Choices>\n</View>',
  },
  {
    id: 'object-detection',
    name: 'Object detection',
    config: '<View>\n  <Image name="image" value="$image"/>\n  <RectangleLabels name="label" toName="image">\n    <Label value="Car"/>\n    <Label value="Person"/>\n  </RectangleLabels>\n</View>',
  },
  {
    id: 'text-classification',
    name: 'Text classification',
    config: '<View>\n  <Text name="text" value="$text"/>\n  <Choices name="sentiment" toName="text">\n    <Choice value="Positive"/>\n    <Choice value="Negative"/>\n    <Choice value="Neutral"/>\n  </Choices>\n</View>',
  },
  {
    id: 'audio-classification',
    name: 'Audio classification',
    config: '<View>\n  <Audio name="audio" value="$audio"/>\n  <Choices name="kind" toName="audio">\n    <Choice value="Speech"/>\n    <Choice value="Music"/>\n    <Choice value="Noise"/>\n  </Choices>\n</View>',
  },
];
